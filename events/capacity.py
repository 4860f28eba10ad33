"""Capacity that stretches: staff told when an event's audience reaches 80% and 95% of its
capacity tier, an owner moving a live event to a larger tier in one action, and the optional
pre-authorised automatic move.

- `check_capacity` runs with each viewer sample (events.services.record_viewer_sample: once
  per sample slot for the whole deployment, from the count the live room keeps): a threshold
  reached is a CapacityNotice, once per event, tier and threshold (a unique constraint), whose
  email goes to the campaign's owners and managers; at 95% an event with a pre-authorised
  larger tier moves to it, once (the pre-authorisation is used up).
- `upgrade_capacity` moves the event under its row lock, refusing a tier that is not larger or
  an event that is over, and tells the live room (`capacity`): every web process forgets the
  event's admission facts, so the next attempt of a waiting attendee is admitted, and pages
  that were refused see the free seats in the next snapshot and come back at once.
- Each notice's email is sent once (events/capacity_mail.py), by the task enqueued on commit
  and by beat's sweep.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import IntegrityError, transaction

from events import livebus, tasks
from events.models import CapacityNotice, CapacityNoticeKind, CapacityTier, Event, EventStatus

log = logging.getLogger(__name__)

THRESHOLDS = ((95, CapacityNoticeKind.AT_95), (80, CapacityNoticeKind.AT_80))
AUTO_UPGRADE_PERCENT = 95


class CapacityRefused(Exception):
    """An upgrade that cannot be made; the message says why. Nothing was changed."""


def _enqueue_mail() -> None:
    # Robust: a broker away must not undo the change; beat's sweep sends the email later.
    transaction.on_commit(tasks.send_capacity_notices.delay, robust=True)


def check_capacity(*, event_id: int, viewers: int) -> list[str]:
    """The audience of a live event is `viewers`: open the notices of the thresholds reached
    (each once per tier) and, at 95% with a pre-authorised larger tier, move to it. Returns
    the kinds of the notices opened now."""
    event = (
        Event.objects.select_related("capacity_tier", "auto_upgrade_tier")
        .filter(pk=event_id, status=EventStatus.LIVE)
        .first()
    )
    if event is None:
        return []
    capacity = event.capacity_tier.max_attendees
    opened: list[str] = []
    for percent, kind in THRESHOLDS:
        if viewers * 100 < percent * capacity:
            continue
        if CapacityNotice.objects.filter(event=event, tier=event.capacity_tier, kind=kind).exists():
            break  # this one and the lower ones were told for this tier
        try:
            with transaction.atomic():
                CapacityNotice.objects.create(
                    event=event, kind=kind, tier=event.capacity_tier, viewers=viewers
                )
        except IntegrityError:  # another process opened it at the same moment
            break
        opened.append(kind)
        _enqueue_mail()
        log.info("capacity threshold reached", extra={"event_id": event_id, "percent": percent})
        break  # one notice per sample: the highest threshold reached
    upgrade = event.auto_upgrade_tier
    if (
        upgrade is not None
        and viewers * 100 >= AUTO_UPGRADE_PERCENT * capacity
        and upgrade.max_attendees > capacity
    ):
        try:
            upgrade_capacity(event_id=event_id, tier_id=upgrade.pk, by_user_id=None, automatic=True)
            opened.append(CapacityNoticeKind.UPGRADED)
        except CapacityRefused as exc:
            log.warning("automatic upgrade refused", extra={"event_id": event_id, "why": str(exc)})
    return opened


@transaction.atomic
def upgrade_capacity(
    *, event_id: int, tier_id: int, by_user_id: int | None, automatic: bool = False
) -> CapacityNotice:
    """Move the event to a larger capacity tier now. Raises CapacityRefused (no such tier, not
    larger than the event's, the event over) with nothing changed."""
    event = (
        Event.objects.select_for_update(no_key=True)
        .select_related("capacity_tier")
        .get(pk=event_id)
    )
    tier = CapacityTier.objects.filter(pk=tier_id).first()
    if tier is None:
        raise CapacityRefused("That capacity tier does not exist. Reload the page.")
    if event.status in (EventStatus.ENDED, EventStatus.CANCELLED):
        raise CapacityRefused("The event is over: its capacity can no longer change.")
    current = event.capacity_tier
    if tier.max_attendees <= current.max_attendees:
        raise CapacityRefused(
            f"Choose a tier larger than the event's {current.name} "
            f"({current.max_attendees:,} attendees)."
        )
    event.capacity_tier = tier
    fields = ["capacity_tier"]
    upgrade = event.auto_upgrade_tier
    if automatic or (upgrade is not None and upgrade.max_attendees <= tier.max_attendees):
        event.auto_upgrade_tier = None  # used up, or no longer larger
        fields.append("auto_upgrade_tier")
    event.save(update_fields=fields)
    viewers = event.viewer_samples.order_by("-at").values_list("viewers", flat=True).first() or 0
    notice = CapacityNotice.objects.create(
        event=event,
        kind=CapacityNoticeKind.UPGRADED,
        tier=tier,
        from_tier=current,
        viewers=viewers,
        by_user_id=by_user_id,
    )
    transaction.on_commit(partial(livebus.publish_change, event_id=event_id, kind="capacity"))
    _enqueue_mail()
    log.info(
        "capacity tier changed",
        extra={"event_id": event_id, "tier_id": tier.pk, "automatic": automatic},
    )
    return notice


def latest_notice(*, event_id: int) -> CapacityNotice | None:
    """The dashboard's banner: the event's latest notice for its current tier (an alert) or
    its last move (one query)."""
    return (
        CapacityNotice.objects.select_related("tier", "from_tier", "by_user")
        .filter(event_id=event_id)
        .order_by("-created_at", "-id")
        .first()
    )
