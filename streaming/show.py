"""The show: staff's "Go live", "End show" and "Resume show", and what the show does by itself.

The stream (the encoder's side, `StreamState`) and the show (the event's status) are separate:
video arriving for a scheduled event opens the green room (backstage: only staff see it); staff
go live (or the event goes live at its start time by itself, if it says so and video is
arriving); an encoder that drops, reconnects, says ENDLIST or is replaced never ends the show:
its stream is "reconnecting" and players wait. The show ends when staff end it, or by itself
once its stream has sent nothing for the event's `auto_end_minutes`. Staff may resume an ended
show within SHOW_RESUME_MINUTES of its end: the same stream takes video again. The simulcast
destinations follow the show: copied while it is live (streaming/simulcast/), failed ones
tried again when it goes live or resumes.

Each action locks the event's row, then the stream's (one lock order), and refuses with a
`ShowRefused` whose message is for staff; nothing changes when it refuses.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events import services as event_services
from events.models import Event, EventStatus
from streaming import services
from streaming.models import Stream, StreamState
from streaming.simulcast import services as simulcast

log = logging.getLogger(__name__)


class ShowRefused(Exception):
    """Why a show action cannot happen now: `status` (409 for the show's state) and a message
    for staff."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _locked(event_id: int) -> tuple[Event, Stream | None]:
    event = Event.objects.select_for_update().get(pk=event_id)
    stream = Stream.objects.select_for_update().filter(event_id=event_id).first()
    return event, stream


@transaction.atomic
def go_live(*, event_id: int) -> Event:
    """Backstage (or scheduled) → live, when video is arriving. Raises ShowRefused."""
    event, stream = _locked(event_id)
    if event.status == EventStatus.LIVE:
        raise ShowRefused("The show is already live.")
    if event.status == EventStatus.ENDED:
        raise ShowRefused("The show has ended: resume it instead.")
    if event.status not in (EventStatus.SCHEDULED, EventStatus.BACKSTAGE):
        raise ShowRefused(f"The event is {EventStatus(event.status).label.lower()}: "
                          "schedule it before going live.")  # fmt: skip
    if stream is None:
        raise ShowRefused(
            "This event has no stream yet: add one in the admin (Streaming, then Streams), start "
            "your encoder, and go live once its preview plays."
        )
    if stream.state != StreamState.LIVE:
        raise ShowRefused(
            "No video is arriving: start the encoder with the stream's key and wait for the "
            "preview to play before going live."
        )
    event = event_services.start_event(event_id=event_id)
    # The simulcast destinations start with the show (the transcoder's next round).
    simulcast.reset_for_show(event_id=event_id)
    log.info("show live", extra={"event_id": event_id})
    return event


@transaction.atomic
def end_show(*, event_id: int, reason: str = "staff") -> Event:
    """Live → ended: the stream ends with it (players play out to ENDLIST, the replay is
    written); giving stays open for the event's giving window. Raises ShowRefused."""
    event, stream = _locked(event_id)
    if event.status != EventStatus.LIVE:
        raise ShowRefused(f"The show is not live (it is {event.get_status_display().lower()}).")
    event = event_services.end_event(event_id=event_id)
    if stream is not None:
        services.end_stream(stream_id=stream.pk, reason=reason)
    log.info("show ended", extra={"event_id": event_id, "reason": reason})
    return event


@transaction.atomic
def resume_show(*, event_id: int, now: datetime | None = None) -> Event:
    """Ended → live again, within SHOW_RESUME_MINUTES of the end: the same stream takes video
    again (a new encoder session after a discontinuity). Raises ShowRefused."""
    now = now or timezone.now()
    event, stream = _locked(event_id)
    if event.status != EventStatus.ENDED or event.ended_at is None:
        raise ShowRefused(
            f"Only an ended show can be resumed; this one is {event.get_status_display().lower()}."
        )
    limit = timedelta(minutes=settings.SHOW_RESUME_MINUTES)
    if now - event.ended_at > limit:
        minutes = int((now - event.ended_at).total_seconds() // 60)
        raise ShowRefused(
            f"The show ended {minutes} minutes ago; a show can be resumed within "
            f"{settings.SHOW_RESUME_MINUTES} minutes of its end. Create a new event instead."
        )
    event = event_services.start_event(event_id=event_id)
    if stream is not None:
        services.reopen_stream(stream_id=stream.pk)
    simulcast.reset_for_show(event_id=event_id)
    log.info("show resumed", extra={"event_id": event_id})
    return event


def run_automatic(*, now: datetime | None = None) -> dict[str, int]:
    """What the show does by itself (the stream sweep runs it): events set to go live at
    their start time do so when video is arriving; a live show whose stream has sent nothing
    for its `auto_end_minutes` ends. Returns how many went live and how many ended."""
    now = now or timezone.now()
    due = Event.objects.filter(
        go_live_automatically=True,
        status__in=[EventStatus.SCHEDULED, EventStatus.BACKSTAGE],
        starts_at__lte=now,
        ends_at__gt=now,
        stream__state=StreamState.LIVE,
    ).values_list("pk", flat=True)
    went_live = 0
    for event_id in due:
        try:
            go_live(event_id=event_id)
        except ShowRefused:
            continue  # it changed meanwhile
        went_live += 1
    ended = 0
    live = Event.objects.filter(
        status=EventStatus.LIVE, auto_end_minutes__gt=0, stream__isnull=False
    ).exclude(stream__state=StreamState.LIVE)
    for event_id, minutes, last, went in live.values_list(
        "pk", "auto_end_minutes", "stream__last_segment_at", "went_live_at"
    ):
        if last is None and went is None:
            continue  # never had video: staff end it
        if now - max(t for t in (last, went) if t is not None) < timedelta(minutes=minutes):
            continue
        try:
            end_show(event_id=event_id, reason="stream gone")
        except ShowRefused:
            continue
        ended += 1
    return {"went_live": went_live, "auto_ended": ended}


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic round (the stream worker, or beat): the streams' health sweep, then the
    show's automatic steps."""
    now = now or timezone.now()
    return {**services.sweep_streams(now=now), **run_automatic(now=now)}
