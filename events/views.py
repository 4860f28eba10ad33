"""Public pages: the list of upcoming and live events, and the event page."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST, require_safe

from donations import selectors as donation_selectors
from events import ics, registration, selectors, services
from events.live import selectors as live_selectors
from events.models import Event, EventStatus, Registration
from streaming import selectors as stream_selectors


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
    stream = stream_selectors.event_stream_state(event_id=event.pk)
    signup = registration.registration_context(request, event)
    context = {
        "event": event,
        "donate": donate,
        "stream": stream,
        "player": _player_config(event, stream),
        # Events that ask for registration show their video to registered attendees.
        "may_watch": not signup["registration_required"] or signup["registration"] is not None,
        **signup,
    }
    response = render(request, "events/event_detail.html", context)
    if event.visibility == "unlisted":
        # Reachable by link, but kept out of search engines.
        response["X-Robots-Tag"] = "noindex"
    return response


def _stream_json(event: Event, stream: stream_selectors.StreamView) -> dict[str, Any]:
    return {
        "status": event.status,
        "state": stream.state,
        "master_url": stream.master_url,
        "replay_url": stream.replay_url,
        "target_duration": stream.target_duration,
    }


def _player_config(event: Event, stream: stream_selectors.StreamView) -> dict[str, Any]:
    """What static/js/player.js starts from; later changes come through the live room."""
    return {
        **_stream_json(event, stream),
        "stream_url": reverse("events:stream", kwargs={"slug": event.slug}),
    }


@require_GET
def event_stream(request: HttpRequest, slug: str) -> JsonResponse:
    """The player's URLs now: the live master playlist, or the replay once the stream ended.
    Pages ask when the live room says the stream changed (jittered, so a million players do
    not ask in the same second); a CDN may keep it a second. Signed URLs are the same for
    every viewer within a signing step (streaming.signing), but stay out of shared caches."""
    event = selectors.access_public_event(slug=slug)
    stream = stream_selectors.event_stream_state(event_id=event.pk)
    response = JsonResponse(_stream_json(event, stream))
    signed = any(
        url and not url.startswith("/live/") for url in (stream.master_url, stream.replay_url)
    )
    response["Cache-Control"] = (
        "private, max-age=1" if signed else "public, max-age=1, stale-while-revalidate=2"
    )
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


# --- Registration (issue 7) ---------------------------------------------------------------------


def _registered_redirect(reg: Registration) -> HttpResponse:
    response = HttpResponseRedirect(reg.event.get_absolute_url() + "#registered", status=303)
    registration.set_registration_cookie(response, reg)
    return response


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@require_POST
def register(request: HttpRequest, slug: str) -> HttpResponse:
    """The registration form's target. Success: the attendee's cookie and a 303 back to the
    event page. Bad details: the form again with its errors (400). An event that takes no
    registrations (now): a page that says why (409), and nothing stored."""
    event = selectors.access_public_event(slug=slug)
    try:
        services.check_registration_open(event=event)
    except services.RegistrationRefused as exc:
        context = {"event": event, "refused": exc.messages[0]}
        return render(request, "events/register.html", context, status=409)
    form = registration.RegistrationForm(request.POST)
    if not form.is_valid():
        context = {"event": event, "registration_form": form, "registration": None}
        return render(request, "events/register.html", context, status=400)
    try:
        reg = services.register_attendee(event=event, **form.cleaned_data)
    except services.RegistrationRefused as exc:  # the event changed in between
        context = {"event": event, "refused": exc.messages[0]}
        return render(request, "events/register.html", context, status=409)
    if not _same_name(reg.name, form.cleaned_data["name"]):
        # The email was registered before under another name: whoever typed it now gets no
        # cookie (it would show that name); the link in the re-sent email lets its owner in.
        context = {"event": event, "sent_to": reg.email}
        return render(request, "events/register.html", context)
    return _registered_redirect(reg)


@require_safe
def registration_link(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """The confirmation email's link: remembers the attendee on this device (404 if the token
    is not one of this event's registrations)."""
    event = selectors.access_public_event(slug=slug)
    reg = selectors.registration_by_token(event=event, token=token)
    if reg is None:
        raise Http404("No such registration.")
    return _registered_redirect(reg)


@require_safe
def event_calendar(request: HttpRequest, slug: str) -> HttpResponse:
    """The event as an .ics file, for anyone: the page's "Add to calendar"."""
    event = selectors.access_public_event(slug=slug)
    response = HttpResponse(ics.build_event_ics(event=event), content_type=ics.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{ics.ics_filename(event)}"'
    response["Cache-Control"] = "public, max-age=300"
    return response
