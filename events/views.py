"""Public pages: the list of upcoming and live events, and the event page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from events import selectors


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    events = list(selectors.public_events())
    return render(
        request,
        "events/home.html",
        {
            "live_events": [e for e in events if e.status == "live"],
            "upcoming_events": [e for e in events if e.status == "scheduled"],
        },
    )


@require_GET
def event_detail(request: HttpRequest, slug: str) -> HttpResponse:
    event = selectors.access_public_event(slug=slug)
    response = render(request, "events/event_detail.html", {"event": event})
    if event.visibility == "unlisted":
        # Reachable by link, but kept out of search engines.
        response["X-Robots-Tag"] = "noindex"
    return response
