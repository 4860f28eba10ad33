"""The ledger's writes on every provider event: lock a donor's donations, save a donation's
new money state, move the sharded tallies by the difference, and tell the live room.

This is the only module that tells the live room a tally changed (`_publish_tally`), always
from `transaction.on_commit`, once per committed change; after a rise it first records the
milestones the committed tally reached (`donations.milestones`). The tally moves in the same
transaction as the ledger row, so a tally never disagrees with a committed ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from celery import current_app as celery_app
from django.db import connection, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from donations import milestones
from donations.models import (
    TALLY_SHARDS,
    Donation,
    TallyShard,
    campaign_scope,
    event_scope,
)
from donations.receipt_tasks import send_receipt_task
from events import livebus
from events.models import Event

# What provider events may change on a donation.
STATE_FIELDS = [
    "succeeded_seen",
    "failed_seen",
    "refunded_minor",
    "dispute_id",
    "dispute_state",
    "disputed_minor",
    "status",
    "net_minor",
    "charge_id",
    "succeeded_at",
    "updated_at",
]


# Built from the constant field names above, never from input (bandit B608 accepted).
_SAVE_STATE = "UPDATE donations_donation SET {} WHERE id = %s".format(  # noqa: S608  # nosec B608
    ", ".join(f"{name} = %s" for name in STATE_FIELDS)
)


def _save_state(donation: Donation) -> None:
    """donation.save(update_fields=STATE_FIELDS) in plain SQL (on every webhook's path)."""
    values: list[Any] = []
    for name in STATE_FIELDS:
        value = getattr(donation, name)
        if isinstance(value, datetime):
            value = connection.ops.adapt_datetimefield_value(value)
        values.append(value)
    with connection.cursor() as cursor:
        cursor.execute(_SAVE_STATE, [*values, donation.pk])


@dataclass(frozen=True)
class MoneyState:
    net_minor: int

    @property
    def counted(self) -> bool:
        return self.net_minor > 0


_DONATION_FIELDS = Donation._meta.concrete_fields
# Built from the model's own column names, never from input (bandit B608 accepted).
_COLUMNS = ", ".join(str(f.column) for f in _DONATION_FIELDS)
_LOCK_DONOR = f"SELECT {_COLUMNS} FROM donations_donation WHERE " + (  # noqa: S608  # nosec B608
    "campaign_id = (SELECT campaign_id FROM donations_donation WHERE {key} = %s) AND "  # nosec B608
    "email = (SELECT email FROM donations_donation WHERE {key} = %s) ORDER BY id"
)
_ATTNAMES = [f.attname for f in _DONATION_FIELDS]


def lock_donor_donations(
    *, payment_id: str | None = None, donation_id: int | None = None
) -> tuple[Donation, list[Donation]] | None:
    """Lock every donation of the donor (same campaign, same email) behind this payment (or
    this donation id), in id order so two transactions never deadlock, and return (this one,
    the others); None for an unknown payment. One query (plain SQL: it is on every webhook's
    path; the (campaign, email) index serves it). Must run in a transaction. Holding these
    rows is what keeps the distinct-donor counts exact under concurrency."""
    key, value = ("id", donation_id) if donation_id is not None else ("payment_id", payment_id)
    sql = _LOCK_DONOR.format(key=key) + (
        " FOR UPDATE" if connection.features.has_select_for_update else ""
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value, value])
        rows = [_from_db(values) for values in cursor.fetchall()]
    target = next(
        (
            d
            for d in rows
            if (d.pk == donation_id if donation_id is not None else d.payment_id == payment_id)
        ),
        None,
    )
    if target is None:
        return None
    return target, [d for d in rows if d.pk != target.pk]


# Per backend vendor, per field: the ORM's converters from database values to Python ones.
_CONVERTERS: dict[str, list[list[Any]]] = {}


def _from_db(values: tuple[Any, ...]) -> Donation:
    """A Donation from one row of _LOCK_DONOR, converted as the ORM would (Donation.from_db),
    without RawQuerySet's per-query column resolution."""
    converters = _CONVERTERS.get(connection.vendor)
    if converters is None:
        table = Donation._meta.db_table
        converters = [
            [
                *connection.ops.get_db_converters(field.get_col(table)),
                *field.get_db_converters(connection),
            ]
            for field in _DONATION_FIELDS
        ]
        _CONVERTERS[connection.vendor] = converters
    out = list(values)
    for i, field in enumerate(_DONATION_FIELDS):
        for convert in converters[i]:
            out[i] = convert(out[i], field, connection)
    return Donation.from_db(connection.alias, _ATTNAMES, out)


# Both scopes in one statement, event row first (the lock order of every transaction).
_UPSERT = (
    "INSERT INTO donations_tallyshard (scope, shard, raised_minor, donors, donations) "
    "VALUES (%s, %s, %s, %s, %s), (%s, %s, %s, %s, %s) ON CONFLICT (scope, shard) DO UPDATE SET "
    "raised_minor = donations_tallyshard.raised_minor + EXCLUDED.raised_minor, "
    "donors = donations_tallyshard.donors + EXCLUDED.donors, "
    "donations = donations_tallyshard.donations + EXCLUDED.donations"
)


def commit_donation_state(
    *, donation: Donation, before: MoneyState, others: list[Donation]
) -> bool:
    """Save the donation's recomputed state and move the event's and campaign's tallies by the
    difference. Call inside the transaction that holds lock_donor_donations(). Returns whether
    the tally changed; if so the live room hears of it once, after commit."""
    donation.recompute_state()
    if donation.succeeded_seen and donation.succeeded_at is None:
        donation.succeeded_at = timezone.now()
    donation.updated_at = timezone.now()
    _save_state(donation)
    after = MoneyState(net_minor=donation.net_minor)
    raised = after.net_minor - before.net_minor
    counted = int(after.counted) - int(before.counted)
    if raised == 0 and counted == 0:
        return False
    # A donor is counted once per scope: only their first counted donation moves `donors`.
    other_event = any(o.counted for o in others if o.event_id == donation.event_id)
    other_campaign = any(o.counted for o in others)
    shard = donation.pk % TALLY_SHARDS
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT,
            [
                *(event_scope(donation.event_id), shard, raised),
                *(0 if other_event else counted, counted),
                *(campaign_scope(donation.campaign_id), shard, raised),
                *(0 if other_campaign else counted, counted),
            ],
        )
    # A rise may cross a milestone: checked once committed (donations/milestones.py).
    publish = _tally_rose if raised > 0 else _publish_tally
    transaction.on_commit(partial(publish, event_id=donation.event_id))
    if after.counted and not before.counted and celery_app.conf.task_always_eager:
        # Embedded mode has no beat: send at once. With a broker, the row itself is the
        # outbox (receipt_sent_at IS NULL) and the periodic send_pending_receipts task sends
        # it: nothing to enqueue on the webhook's hot path, and no receipt lost with a message.
        transaction.on_commit(partial(send_receipt_task.delay, donation.pk))
    return True


def _publish_tally(*, event_id: int) -> None:
    livebus.publish_change(event_id=event_id, kind="tally")


def _tally_rose(*, event_id: int) -> None:
    """After the commit of a rise: record the milestones it crossed, then tell the live room
    once (its snapshot carries the tally and the crossings together)."""
    milestones.check_crossings(event_id=event_id)
    livebus.publish_change(event_id=event_id, kind="tally")


@transaction.atomic
def recompute_tallies(*, event_ids: list[int] | None = None) -> int:
    """Rebuild the tally shards from the ledger (all scopes, or the given events and their
    campaigns). Returns how many scopes were written. Tells the live room about each event."""
    if connection.vendor == "postgresql":
        # Concurrent ledger changes wait for this rebuild at their shard upsert; their deltas
        # then land on top of totals that did not include them. No change is lost or doubled.
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE donations_tallyshard IN EXCLUSIVE MODE")
    donations = Donation.objects.filter(net_minor__gt=0)
    scopes: dict[str, tuple[int, int, int]] = {}
    if event_ids is None:
        TallyShard.objects.all().delete()
        event_list = list(Event.objects.values_list("pk", "campaign_id"))
    else:
        event_list = list(Event.objects.filter(pk__in=event_ids).values_list("pk", "campaign_id"))
    campaign_ids = {c for _, c in event_list}
    for event_id, _ in event_list:
        rows = donations.filter(event_id=event_id)
        scopes[event_scope(event_id)] = _ledger_sums(rows)
    for campaign_id in campaign_ids:
        rows = donations.filter(campaign_id=campaign_id)
        scopes[campaign_scope(campaign_id)] = _ledger_sums(rows)
    TallyShard.objects.filter(scope__in=list(scopes)).delete()
    TallyShard.objects.bulk_create(
        TallyShard(scope=scope, shard=0, raised_minor=r, donors=d, donations=n)
        for scope, (r, d, n) in scopes.items()
    )
    for event_id, _ in event_list:
        transaction.on_commit(partial(_tally_rose, event_id=event_id))
    return len(scopes)


def _ledger_sums(rows: QuerySet[Donation]) -> tuple[int, int, int]:
    raised = rows.aggregate(total=Sum("net_minor"))["total"] or 0
    return raised, rows.values("email").distinct().count(), rows.count()
