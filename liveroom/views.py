"""The event page and its JSON: the page attendees watch and give on, `stream.json` (the
player's URLs now) and `tally.json` (the live room's snapshot for clients without
WebSockets and for CDNs)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from donations import selectors as donation_selectors
from engagement import reactions
from engagement import selectors as engagement_selectors
from engagement.models import QUESTION_MAX_CHARS
from events import registration
from events import selectors as event_selectors
from events.httpcache import etag_matches
from events.models import Event, EventStatus
from liveroom import attendees, selectors
from streaming import selectors as stream_selectors


@require_GET
def event_detail(request: HttpRequest, slug: str) -> HttpResponse:
    event = event_selectors.access_public_event(slug=slug)
    # The donate panel while the event takes gifts: before and through the show, and on the
    # replay page for its giving window.
    donate = (
        donation_selectors.donate_panel(event=event) if event.giving_open(timezone.now()) else None
    )
    status = event_selectors.public_status(event.status)
    stream = stream_selectors.event_stream_state(event_id=event.pk)
    signup = registration.registration_context(request, event)
    cookies, new_attendee = attendees.page_cookies(request)
    # Events that ask for registration show their video to registered attendees.
    may_watch = not signup["registration_required"] or signup["registration"] is not None
    context = {
        "event": event,
        "status": status,
        "status_label": EventStatus(status).label,
        "donate": donate,
        "stream": stream,
        "player": _player_config(event, stream, may_watch=may_watch),
        "may_watch": may_watch,
        "room": _room_config(event, cookies) if status in ROOM_STATUSES else None,
        **signup,
    }
    response = render(request, "liveroom/event.html", context)
    if new_attendee is not None:
        attendees.set_attendee_cookie(response, new_attendee)
    if event.visibility == "unlisted":
        # Reachable by link, but kept out of search engines.
        response["X-Robots-Tag"] = "noindex"
    return response


# The room (questions, polls, reactions) takes part while the live room's socket is open.
ROOM_STATUSES = (EventStatus.SCHEDULED, EventStatus.LIVE)


def _room_config(event: Event, cookies: dict[str, str]) -> dict[str, Any]:
    """What static/js/engagement.js starts from: whether this browser may take part (and why
    not), what its participant already did, the question's length limit and the reactions.
    The room's state itself comes with the live room's snapshots."""
    participant, reason = attendees.participant(
        cookies, event_id=event.pk, registration_required=event.registration_required
    )
    return {
        "may_take_part": participant is not None,
        "reason": reason,
        "mine": engagement_selectors.participant_choices(
            event_id=event.pk, participant=participant
        ),
        "question_max_chars": QUESTION_MAX_CHARS,
        "reactions": [
            {"name": name, "emoji": emoji, "label": reactions.LABELS[name]}
            for name, emoji in reactions.EMOJI.items()
        ],
        "reaction_max": reactions.MAX_PER_MESSAGE,
    }


def _stream_json(event: Event, stream: stream_selectors.StreamView) -> dict[str, Any]:
    return {
        "status": event_selectors.public_status(event.status),
        "state": stream.state,
        "master_url": stream.master_url,
        "replay_url": stream.replay_url,
        "target_duration": stream.target_duration,
        "latency": stream.latency,
    }


def _is_signed(url: str | None) -> bool:
    return bool(url) and not str(url).startswith("/live/")


def _player_config(
    event: Event, stream: stream_selectors.StreamView, *, may_watch: bool
) -> dict[str, Any]:
    """What static/js/player.js starts from; later changes come through the live room. A
    signed live URL is never in the page: the player asks stream.json once admitted."""
    config = _stream_json(event, stream)
    if not may_watch:
        config.update(master_url=None, replay_url=None)
    if _is_signed(stream.master_url):
        config["master_url"] = None
    return {**config, "stream_url": reverse("liveroom:stream", kwargs={"slug": event.slug})}


@require_GET
def event_stream(request: HttpRequest, slug: str) -> JsonResponse:
    """The player's URLs now: the live master playlist, or the replay once the stream ended.
    Pages ask when the live room says the stream changed (jittered, so a million players do
    not ask in the same second); a CDN may keep a public stream's answer a second.

    The gates hold here, not only in the player: an event that asks for registration gives
    URLs to registered attendees only, and a signed live stream's URL goes only to a browser
    the live room admitted and still holds a seat for (its attendee cookie). Refused: 403
    with the reason, and no URL. Signed URLs are the same for every viewer within a signing
    step (streaming.signing), but stay out of shared caches."""
    event = event_selectors.access_public_event(slug=slug)
    stream = stream_selectors.event_stream_state(event_id=event.pk)
    body = _stream_json(event, stream)
    refused = None
    if (
        event.registration_required
        and registration.registration_from_request(request, event) is None
    ):
        refused = "Register for this event to watch it."
    elif _is_signed(stream.master_url) and not selectors.attendee_holds_seat(
        event_id=event.pk,
        attendee=attendees.attendee_from_cookie(request.COOKIES.get(attendees.COOKIE)),
    ):
        refused = "This browser has no place in the live room yet: the event may be full."
    if refused is not None:
        body.update(master_url=None, replay_url=None, error=refused)
        response = JsonResponse(body, status=403)
        response["Cache-Control"] = "private, no-store"
        return response
    response = JsonResponse(body)
    private = event.registration_required or _is_signed(stream.master_url or stream.replay_url)
    response["Cache-Control"] = (
        "private, max-age=1" if private else "public, max-age=1, stale-while-revalidate=2"
    )
    return response


# Clients without WebSockets poll this, and a CDN may cache it for a second.
TALLY_CACHE_CONTROL = "public, max-age=1, stale-while-revalidate=5"


@require_GET
def event_tally(request: HttpRequest, slug: str) -> HttpResponse:
    """The live room's current snapshot as JSON, with an ETag (its version) and 304s."""
    event = event_selectors.access_public_event(slug=slug)
    version, text = selectors.current_snapshot(event_id=event.pk)
    etag = f'"{version}"'
    if etag_matches(request, etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(text, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = TALLY_CACHE_CONTROL
    return response
