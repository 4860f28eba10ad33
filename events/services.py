"""State changes for campaigns and events. Each locks the event row it changes."""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.utils import timezone

from events import livebus
from events.models import Event, EventStatus

log = logging.getLogger(__name__)


@transaction.atomic
def _transition(*, event_id: int, to: EventStatus) -> Event:
    # Lock the row: two staff clicking, or a stream going live while staff cancel, must not
    # both pass check_transition on the same old status.
    event = Event.objects.select_for_update().get(pk=event_id)
    event.check_transition(to)
    event.status = to
    fields = ["status", "updated_at"]
    if to == EventStatus.LIVE:
        event.went_live_at = timezone.now()
        fields.append("went_live_at")
    elif to == EventStatus.ENDED:
        event.ended_at = timezone.now()
        fields.append("ended_at")
    event.save(update_fields=fields)
    log.info("event status changed", extra={"event_id": event.pk, "status": to.value})
    transaction.on_commit(partial(livebus.publish_change, event_id=event.pk, kind="status"))
    return event


def schedule_event(*, event_id: int) -> Event:
    """draft → scheduled. Raises InvalidTransition otherwise."""
    return _transition(event_id=event_id, to=EventStatus.SCHEDULED)


def start_event(*, event_id: int) -> Event:
    """scheduled → live (a stream started, or staff went live). Raises InvalidTransition."""
    return _transition(event_id=event_id, to=EventStatus.LIVE)


def end_event(*, event_id: int) -> Event:
    """live → ended. Raises InvalidTransition otherwise."""
    return _transition(event_id=event_id, to=EventStatus.ENDED)


def cancel_event(*, event_id: int) -> Event:
    """draft or scheduled → cancelled. Raises InvalidTransition otherwise."""
    return _transition(event_id=event_id, to=EventStatus.CANCELLED)


def announce_event_edit(*, event_id: int) -> None:
    """Staff changed an event's details (goal, title, …): the live room re-reads it after
    commit, so viewers see a new goal at once instead of with the next donation."""
    transaction.on_commit(partial(livebus.publish_change, event_id=event_id, kind="status"))
