"""Public pages: the list of upcoming and live events, and the event page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from donations import selectors as donation_selectors
from events import selectors
from events.live import selectors as live_selectors
from events.models import EventStatus


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
    # The donate panel, for events that take donations (live or scheduled).
    donate = (
        donation_selectors.donate_panel(event=event)
        if event.status in (EventStatus.LIVE, EventStatus.SCHEDULED)
        else None
    )
    response = render(request, "events/event_detail.html", {"event": event, "donate": donate})
    if event.visibility == "unlisted":
        # Reachable by link, but kept out of search engines.
        response["X-Robots-Tag"] = "noindex"
    return response


# Clients without WebSockets poll this, and a CDN may cache it for a second.
TALLY_CACHE_CONTROL = "public, max-age=1, stale-while-revalidate=5"


@require_GET
def event_tally(request: HttpRequest, slug: str) -> HttpResponse:
    """The live room's current snapshot as JSON, with an ETag (its version) and 304s."""
    event = selectors.access_public_event(slug=slug)
    version, text = live_selectors.current_snapshot(event_id=event.pk)
    etag = f'"{version}"'
    offered = [
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("If-None-Match", "").split(",")
    ]
    if etag in offered or "*" in offered:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(text, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = TALLY_CACHE_CONTROL
    return response
