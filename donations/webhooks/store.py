"""The event store: every provider event (a Stripe webhook, a reconciliation finding, a
simulated payment) is stored by its id before it has any effect, and claimed once to be
applied. Plain SQL on the hot path: at hundreds of webhooks a second, compiling ORM queries
is most of the CPU (bench/webhooks.py).
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection
from django.db.models.fields.json import KT
from django.utils import timezone

from donations.models import ProviderEvent
from donations.providers.stripe_events import (
    STORED_INVOICE_PAYMENT_INVOICE,
    InvoicePaymentPaid,
    ParsedEvent,
    parse_event,
)

_INSERT_EVENT = (
    "INSERT INTO donations_providerevent "
    "(event_id, type, source, payload, received_at, attempts, last_error) "
    "VALUES (%s, %s, %s, {payload}, %s, 0, '') ON CONFLICT (event_id) DO NOTHING RETURNING id"
)
_CLAIM_EVENT = (
    "UPDATE donations_providerevent SET applied_at = %s, attempts = attempts + 1, "
    "donation_id = (SELECT id FROM donations_donation WHERE payment_id = %s) "
    "WHERE id = %s AND applied_at IS NULL"
)


def record_event(
    *, event: ParsedEvent, source: str, raw: str | None = None
) -> tuple[ProviderEvent, bool]:
    """Store the event by its id, committed at once (one INSERT … ON CONFLICT DO NOTHING):
    stored before any effect. Returns (row, created); a second delivery is (row, False).
    `raw` is the event's JSON text when the caller has it (saves encoding it again)."""
    type_ = event.type[:100]
    cast = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_EVENT.format(payload=cast),
            [
                event.event_id,
                type_,
                source,
                raw if raw is not None else json.dumps(event.payload),
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
        inserted = cursor.fetchone()
    if inserted is None:
        return ProviderEvent.objects.get(event_id=event.event_id), False
    return ProviderEvent(pk=inserted[0], event_id=event.event_id, type=type_, source=source), True


def claim_event(*, provider_event_id: int, payment_id: str | None) -> bool:
    """Mark a stored event applied, linking the donation by its payment id; False when it was
    already applied. Call in the transaction that applies it: the row stays locked until the
    commit (a second applier waits, then finds nothing to claim), and a failure rolls the
    claim back with the effects."""
    with connection.cursor() as cursor:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute(_CLAIM_EVENT, [now, payment_id, provider_event_id])
        claimed: bool = cursor.rowcount == 1
    return claimed


def stored_event(*, provider_event_id: int) -> ParsedEvent:
    """A stored event, parsed again."""
    payload = ProviderEvent.objects.values_list("payload", flat=True).get(pk=provider_event_id)
    return parse_event(payload)


def note_failure(*, provider_event_id: int, error: Exception) -> None:
    """Say why an event is not applied yet (its class name: no donor data in the log)."""
    ProviderEvent.objects.filter(pk=provider_event_id).update(last_error=type(error).__name__)


def unapplied_event_ids(*, older_than: timedelta, limit: int) -> list[int]:
    """Stored events never applied (a crash between store and apply), oldest first."""
    cutoff = timezone.now() - older_than
    return list(
        ProviderEvent.objects.filter(applied_at=None, received_at__lte=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )


def link_donation(*, provider_event_id: int, donation_id: int) -> None:
    ProviderEvent.objects.filter(pk=provider_event_id).update(donation_id=donation_id)


def payment_seen_for_invoice(*, invoice_id: str) -> str:
    """The payment an `invoice_payment.paid` event stored earlier named for this invoice; ""
    when none came (partial index provider_event_invoice_payment)."""
    payload = (
        ProviderEvent.objects.filter(type="invoice_payment.paid")
        .alias(invoice=KT(STORED_INVOICE_PAYMENT_INVOICE))
        .filter(invoice=invoice_id)
        .values_list("payload", flat=True)
        .first()
    )
    if not isinstance(payload, dict):
        return ""
    paid = parse_event(payload).object
    return paid.payment_id if isinstance(paid, InvoicePaymentPaid) else ""
