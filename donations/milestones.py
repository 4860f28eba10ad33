"""Milestones on the way to an event's goal: staff's checks and changes, the crossing check run
after every rise of the tally, and the crossings for the live room and the night's report.

A milestone is crossed once: `record_crossings` sets `crossed_at` with one conditional UPDATE
(`crossed_at IS NULL` on the row itself), so of two processes checking at once only one wins
the row, and a refund that dips below never clears it. It runs after the tally's commit (not
inside it): two gifts committing at once each see the other's shard only once committed, and
the later one's check then sees both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from donations.goal_models import Milestone
from donations.models import event_scope
from events import livebus
from events.models import Event
from events.money import format_money

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MilestoneCrossing:
    milestone_id: int
    at: datetime
    label: str  # "$5,000 raised", "50% of the goal ($5,000)"
    amount_minor: int  # the threshold when it was crossed (read against today's goal)


def threshold_minor(*, amount_minor: int | None, percent: int | None, goal_minor: int) -> int:
    """The raised amount a milestone stands for: its amount, or its percent of the goal
    (rounded up: "50%" is reached when half is, not a cent before)."""
    if amount_minor is not None:
        return amount_minor
    return -(-goal_minor * (percent or 0) // 100)


def milestone_label(
    *, amount_minor: int | None, percent: int | None, goal_minor: int, currency: str
) -> str:
    amount = threshold_minor(amount_minor=amount_minor, percent=percent, goal_minor=goal_minor)
    money = format_money(amount, currency, grouped=True)
    if percent is not None:
        return "the goal" if percent == 100 else f"{percent}% of the goal ({money})"
    return f"{money} raised"


def check_milestone(
    *, event: Event, amount_minor: int | None, percent: int | None, milestone_id: int | None = None
) -> None:
    """Raise ValidationError (a sentence for staff, keyed by field) unless the milestone is
    exactly one of an amount or a percent, within the goal, and not the same point as another
    of the event's milestones. One query."""
    if (amount_minor is None) == (percent is None):
        raise ValidationError(
            {"amount_minor": "Give an amount or a percent of the goal (one of the two)."}
        )
    currency = event.campaign.currency
    goal = format_money(event.goal_minor, currency, grouped=True)
    if percent is not None and not 1 <= percent <= 100:
        raise ValidationError({"percent": "A percent of the goal is from 1 to 100."})
    if amount_minor is not None and amount_minor <= 0:
        raise ValidationError({"amount_minor": "A milestone is a positive amount."})
    if amount_minor is not None and amount_minor > event.goal_minor:
        raise ValidationError(
            {"amount_minor": f"This is above the goal ({goal}): raise the goal first."}
        )
    here = threshold_minor(amount_minor=amount_minor, percent=percent, goal_minor=event.goal_minor)
    others = Milestone.objects.filter(event_id=event.pk).exclude(pk=milestone_id or 0)
    for other in others.only("amount_minor", "percent"):
        there = threshold_minor(
            amount_minor=other.amount_minor, percent=other.percent, goal_minor=event.goal_minor
        )
        if there == here:
            field = "percent" if percent is not None else "amount_minor"
            money = format_money(here, currency, grouped=True)
            raise ValidationError({field: f"The event already has a milestone at {money}."})


@transaction.atomic
def save_milestone(
    *, event_id: int, amount_minor: int | None, percent: int | None, milestone_id: int | None = None
) -> Milestone:
    """Add a milestone (or change one not yet crossed) after check_milestone, under the event's
    row lock (two staff adding the same point: the second is refused). A milestone the tally
    already passed is crossed at once. Raises ValidationError."""
    event = Event.objects.select_for_update(no_key=True).select_related("campaign").get(pk=event_id)
    if milestone_id is not None:
        milestone = Milestone.objects.get(pk=milestone_id, event_id=event_id)
        if milestone.crossed_at is not None:
            raise ValidationError(
                {"amount_minor": "This milestone was already celebrated: add a new one instead."}
            )
    else:
        milestone = Milestone(event_id=event_id)
    check_milestone(
        event=event, amount_minor=amount_minor, percent=percent, milestone_id=milestone_id
    )
    milestone.amount_minor, milestone.percent = amount_minor, percent
    milestone.save()
    transaction.on_commit(partial(announce_crossings, event_id=event_id))
    return milestone


@transaction.atomic
def remove_milestone(*, milestone_id: int) -> None:
    """Delete a milestone (a crossed one leaves the pages' snapshot and the report too)."""
    event_id = Milestone.objects.filter(pk=milestone_id).values_list("event_id", flat=True).first()
    if event_id is None:
        return
    Milestone.objects.filter(pk=milestone_id).delete()
    transaction.on_commit(partial(livebus.publish_change, event_id=event_id, kind="tally"))


# The crossing: one statement, the milestone's own `crossed_at IS NULL` in its WHERE, so a
# concurrent check that waited for this row's lock re-reads it and skips it. The threshold is
# threshold_minor's, in SQL.
_CROSS = (
    "UPDATE donations_milestone SET crossed_at = %s "
    "WHERE event_id = %s AND crossed_at IS NULL AND "
    "COALESCE(amount_minor, (SELECT goal_minor * donations_milestone.percent + 99 "
    "FROM events_event "
    "WHERE id = %s) / 100) <= "
    "(SELECT COALESCE(SUM(raised_minor), 0) FROM donations_tallyshard WHERE scope = %s) "
    "RETURNING id"
)


def record_crossings(*, event_id: int) -> list[int]:
    """Mark the event's milestones the committed tally has reached as crossed, now; returns
    their ids (empty: nothing new, one indexed query). Run outside the tally's transaction,
    after its commit."""
    with connection.cursor() as cursor:
        cursor.execute(_CROSS, [timezone.now(), event_id, event_id, event_scope(event_id)])
        crossed = [row[0] for row in cursor.fetchall()]
    if crossed:
        log.info("milestones crossed", extra={"event_id": event_id, "milestone_ids": crossed})
    return crossed


def check_crossings(*, event_id: int) -> bool:
    """record_crossings that never raises (it runs after a commit that must stand): a failed
    check is logged and the next rise of the tally checks again. Whether any was crossed."""
    try:
        return bool(record_crossings(event_id=event_id))
    except Exception:
        log.exception("milestone check failed", extra={"event_id": event_id})
        return False


def announce_crossings(*, event_id: int) -> None:
    """check_crossings, and the live room told of any."""
    if check_crossings(event_id=event_id):
        livebus.publish_change(event_id=event_id, kind="tally")


def milestone_crossings(*, event_id: int) -> list[MilestoneCrossing]:
    """The event's crossed milestones, first crossed first (the lower first among those one
    change crossed). One query."""
    rows = (
        Milestone.objects.filter(event_id=event_id, crossed_at__isnull=False)
        .order_by("crossed_at", "id")
        .values_list(
            "pk", "crossed_at", "amount_minor", "percent", "event__goal_minor",
            "event__campaign__currency",
        )
    )  # fmt: skip
    crossings = [
        MilestoneCrossing(
            milestone_id=pk,
            at=at,  # type: ignore[arg-type]  # filtered: not null
            label=milestone_label(
                amount_minor=amount, percent=percent, goal_minor=goal, currency=currency
            ),
            amount_minor=threshold_minor(amount_minor=amount, percent=percent, goal_minor=goal),
        )
        for pk, at, amount, percent, goal, currency in rows
    ]
    # Crossed by the same change: the lower first.
    return sorted(crossings, key=lambda c: (c.at, c.amount_minor))
