"""Provider events: stored by id before any effect, then applied through a `{type: handler}`
table. Webhooks, reconciliation findings and simulated payments all come through here.

Applying is idempotent and order-independent: each handler only adds monotone facts to the
donation (a success was seen, the highest refunded amount, the latest dispute state), and
`ledger.commit_donation_state` moves the tallies by the difference it makes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from donations import ledger, recurring
from donations.models import (
    DISPUTE_RANK,
    DisputeState,
    Donation,
    IssueKind,
    LedgerIssue,
    MonthlyGift,
    MonthlyGiftStatus,
    ProviderEvent,
)
from donations.providers.base import PaymentProvider
from events.models import Campaign

log = logging.getLogger(__name__)

# Events older than this and still unapplied are the sweep's (a crash between store and apply).
SWEEP_AFTER = timedelta(seconds=30)


# The hot path of every webhook is three statements of plain SQL (store, claim, lock) around
# two ORM writes: at hundreds of webhooks a second, compiling ORM queries is most of the CPU.
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
    *, event: dict[str, Any], source: str, raw: str | None = None
) -> tuple[ProviderEvent, bool]:
    """Store the event by its id, committed at once (one INSERT … ON CONFLICT DO NOTHING):
    stored before any effect. Returns (row, created); a second delivery is (row, False).
    `raw` is the event's JSON text when the caller has it (saves encoding it again)."""
    event_id = str(event["id"])
    type_ = str(event.get("type", ""))[:100]
    cast = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_EVENT.format(payload=cast),
            [
                event_id,
                type_,
                source,
                raw if raw is not None else json.dumps(event),
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
        inserted = cursor.fetchone()
    if inserted is None:
        return ProviderEvent.objects.get(event_id=event_id), False
    return ProviderEvent(pk=inserted[0], event_id=event_id, type=type_, source=source), True


def receive_event(*, event: dict[str, Any], source: str, raw: str | None = None) -> ProviderEvent:
    """Store, then apply at once. A failure to apply is logged and left to the sweep: the
    event is stored, so the sender gets its 2xx either way."""
    row, created = record_event(event=event, source=source, raw=raw)
    if created:
        try:
            apply_event(provider_event_id=row.pk, payload=event)
        except Exception as exc:
            log.exception("event not applied event_id=%s type=%s", row.event_id, row.type)
            ProviderEvent.objects.filter(pk=row.pk).update(last_error=type(exc).__name__)
    return row


def apply_event(*, provider_event_id: int, payload: dict[str, Any] | None = None) -> bool:
    """Apply a stored event once. Returns whether this call applied it.

    In one transaction: claim the event row (`UPDATE … WHERE applied_at IS NULL`, linking the
    donation by its payment id), then run the handler, which locks the donor's donation rows
    and moves the tally shards last, so shard rows stay locked only until the commit right
    after. A second applier (the sweep racing the receiver) waits on the claim, then finds
    nothing to claim. If the handler fails, the claim rolls back with it: the sweep retries."""
    if payload is None:
        payload = ProviderEvent.objects.values_list("payload", flat=True).get(pk=provider_event_id)
    type_ = str(payload.get("type", ""))
    obj = payload.get("data", {}).get("object", {})
    entry = HANDLERS.get(type_)
    payment_id = obj.get(entry[1]) if entry is not None else None
    if not isinstance(payment_id, str):
        payment_id = None
    with transaction.atomic():
        with connection.cursor() as cursor:
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            cursor.execute(_CLAIM_EVENT, [now, payment_id, provider_event_id])
            if cursor.rowcount != 1:
                return False
        row = ProviderEvent(pk=provider_event_id, type=type_, event_id=str(payload.get("id")))
        if entry is not None:
            _apply_to_donation(entry[0], row, obj, payment_id)
        elif type_ in MONTHLY_HANDLERS:
            MONTHLY_HANDLERS[type_](row, obj)
    return True


def apply_unapplied_events(*, older_than: timedelta = SWEEP_AFTER, limit: int = 500) -> int:
    """The sweep: apply stored events that were never applied. Returns how many it applied."""
    cutoff = timezone.now() - older_than
    ids = list(
        ProviderEvent.objects.filter(applied_at=None, received_at__lte=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    applied = 0
    for pk in ids:
        try:
            applied += apply_event(provider_event_id=pk)
        except Exception as exc:
            log.exception("sweep could not apply provider_event=%s", pk)
            ProviderEvent.objects.filter(pk=pk).update(last_error=type(exc).__name__)
    if applied:
        log.info("sweep applied events=%s", applied)
    return applied


# --- Handlers ---------------------------------------------------------------------------------


def _issue(
    row: ProviderEvent,
    kind: IssueKind,
    detail: str,
    donation: Donation | None,
    campaign_id: int | None = None,
) -> None:
    """Record something staff must look at (once per event and kind). Staff see it when it
    names one of their campaigns; the operator sees all."""
    LedgerIssue.objects.get_or_create(
        provider_event=row,
        kind=kind,
        defaults={
            "detail": detail,
            "donation": donation,
            "campaign_id": donation.campaign_id if donation else campaign_id,
        },
    )
    log.warning(
        "ledger issue kind=%s event_id=%s donation_id=%s",
        kind,
        row.event_id,
        donation.pk if donation else None,
    )


Change = Callable[[ProviderEvent, dict[str, Any], Donation], bool]


def _apply_to_donation(
    change: Change, row: ProviderEvent, obj: dict[str, Any], payment_id: Any
) -> None:
    """Lock the donation with its donor's other donations, let `change` add facts (returning
    False to leave it untouched), then commit the new state and tally. An unknown payment is
    recorded for staff."""
    locked = (
        ledger.lock_donor_donations(payment_id=payment_id)
        if isinstance(payment_id, str) and payment_id
        else None
    )
    if locked is None and _adopt_payment(obj):
        locked = ledger.lock_donor_donations(payment_id=payment_id)
    if (
        locked is None
        and obj.get("object") == "payment_intent"
        and recurring.is_monthly_customer(obj)
    ):
        # A later month's payment: that month is counted by its invoice.paid.
        log.info("monthly payment left to its invoice event_id=%s", row.event_id)
        return
    if locked is None:
        _issue(
            row,
            IssueKind.UNKNOWN_DONATION,
            f"{row.type} for payment {payment_id or '(none)'} matches no donation.",
            None,
            _campaign_named_by(obj),
        )
        return
    donation, others = locked
    before = ledger.MoneyState(net_minor=donation.net_minor)
    if change(row, obj, donation):
        ledger.commit_donation_state(donation=donation, before=before, others=others)


def _campaign_named_by(obj: dict[str, Any]) -> int | None:
    """The campaign in a payment's metadata (ours put it there), if it exists."""
    metadata = obj.get("metadata")
    value = str(metadata.get("campaign_id", "")) if isinstance(metadata, dict) else ""
    if not value.isdigit():
        return None
    return Campaign.objects.filter(pk=int(value)).values_list("pk", flat=True).first()


def _adopt_payment(obj: dict[str, Any]) -> bool:
    """A payment of ours whose id we never stored (the provider created it, then our write of
    its id failed): link it through the donation id in its metadata, if that donation has no
    payment yet. Returns whether it linked one."""
    metadata = obj.get("metadata")
    donation_id = metadata.get("donation_id") if isinstance(metadata, dict) else None
    if obj.get("object") != "payment_intent" or not str(donation_id or "").isdigit():
        return False
    return bool(
        Donation.objects.filter(pk=int(str(donation_id)), payment_id=None).update(
            payment_id=obj["id"]
        )
    )


def _matches(row: ProviderEvent, donation: Donation, *, amount: Any, currency: Any) -> bool:
    if str(currency).lower() != donation.currency:
        _issue(
            row,
            IssueKind.CURRENCY_MISMATCH,
            f"{row.type} is in {currency}; the donation is in {donation.currency}.",
            donation,
        )
        return False
    if amount != donation.amount_minor:
        _issue(
            row,
            IssueKind.AMOUNT_MISMATCH,
            f"{row.type} is for {amount}; the donation is for {donation.amount_minor}.",
            donation,
        )
        return False
    return True


def _payment_succeeded(row: ProviderEvent, obj: dict[str, Any], donation: Donation) -> bool:
    if not _matches(row, donation, amount=obj.get("amount_received"), currency=obj.get("currency")):
        return False
    donation.succeeded_seen = True
    if isinstance(obj.get("latest_charge"), str):
        donation.charge_id = obj["latest_charge"]
    return True


def _payment_failed(row: ProviderEvent, obj: dict[str, Any], donation: Donation) -> bool:
    donation.failed_seen = True  # a success, before or after, still wins
    return True


def _charge_refunded(row: ProviderEvent, obj: dict[str, Any], donation: Donation) -> bool:
    if not _matches(row, donation, amount=obj.get("amount"), currency=obj.get("currency")):
        return False
    refunded = obj.get("amount_refunded")
    if not isinstance(refunded, int) or refunded < 0:
        return False
    # A refunded charge was paid, even if its success event has not arrived yet.
    donation.succeeded_seen = True
    donation.charge_id = donation.charge_id or str(obj.get("id", ""))
    # amount_refunded is cumulative: the largest seen is the truth, whatever the order.
    donation.refunded_minor = min(max(donation.refunded_minor, refunded), donation.amount_minor)
    return True


def _dispute(state_of: Callable[[dict[str, Any]], DisputeState]) -> Callable[..., bool]:
    def change(row: ProviderEvent, obj: dict[str, Any], donation: Donation) -> bool:
        amount = obj.get("amount")
        if str(obj.get("currency", "")).lower() != donation.currency:
            return _matches(row, donation, amount=amount, currency=obj.get("currency"))
        state = state_of(obj)
        donation.succeeded_seen = True  # only a paid charge can be disputed
        if DISPUTE_RANK[state] > DISPUTE_RANK[DisputeState(donation.dispute_state)]:
            donation.dispute_state = state
            donation.dispute_id = str(obj.get("id", ""))
        if isinstance(amount, int) and amount > 0:
            donation.disputed_minor = min(
                max(donation.disputed_minor, amount), donation.amount_minor
            )
        return True

    return change


def _closed_state(obj: dict[str, Any]) -> DisputeState:
    return DisputeState.LOST if obj.get("status") == "lost" else DisputeState.WON


# Event type → (what it changes, where its object names the payment).
HANDLERS: dict[str, tuple[Change, str]] = {
    "payment_intent.succeeded": (_payment_succeeded, "id"),
    "payment_intent.payment_failed": (_payment_failed, "id"),
    "charge.refunded": (_charge_refunded, "payment_intent"),
    "charge.dispute.created": (_dispute(lambda _: DisputeState.OPEN), "payment_intent"),
    "charge.dispute.closed": (_dispute(_closed_state), "payment_intent"),
}


# Monthly gifts (donations.recurring): events whose object is an invoice or a subscription.


def _invoice_paid(row: ProviderEvent, obj: dict[str, Any]) -> None:
    """One paid invoice is one succeeded donation: the first installment (the donation the
    donor started) or a later month's row, created once."""
    donation_id = recurring.invoice_donation(invoice=obj)
    if donation_id is None:
        metadata = recurring.subscription_metadata(obj)
        _issue(
            row,
            IssueKind.UNKNOWN_DONATION,
            f"invoice.paid for invoice {obj.get('id') or '(none)'} matches no monthly gift.",
            None,
            _campaign_named_by({"metadata": metadata}),
        )
        return
    ProviderEvent.objects.filter(pk=row.pk).update(donation_id=donation_id)
    locked = ledger.lock_donor_donations(donation_id=donation_id)
    if locked is None:
        return
    donation, others = locked
    before = ledger.MoneyState(net_minor=donation.net_minor)
    if not _matches(row, donation, amount=obj.get("amount_paid"), currency=obj.get("currency")):
        return
    donation.succeeded_seen = True
    ledger.commit_donation_state(donation=donation, before=before, others=others)


def _invoice_payment_paid(row: ProviderEvent, obj: dict[str, Any]) -> None:
    donation_id = recurring.invoice_payment_paid(invoice_payment=obj)
    if donation_id is not None:
        ProviderEvent.objects.filter(pk=row.pk).update(donation_id=donation_id)


def _subscription_changed(row: ProviderEvent, obj: dict[str, Any]) -> None:
    recurring.subscription_changed(subscription=obj)


MONTHLY_HANDLERS: dict[str, Callable[[ProviderEvent, dict[str, Any]], None]] = {
    "invoice.paid": _invoice_paid,
    "invoice_payment.paid": _invoice_payment_paid,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
}


# --- Events we make ourselves: reconciliation and simulated payments --------------------------


def _synthetic(event_id: str, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": int(timezone.now().timestamp()),
        "data": {"object": obj},
    }


def reconcile_payments(*, provider: PaymentProvider, since: datetime) -> int:
    """List the provider's payments created since `since` (all pages) and apply what the
    webhooks missed, as events of our own (`recon_<payment>_<outcome>`). Idempotent: a payment
    already known gives an event id already stored, or facts already held. Returns how many
    new events it recorded."""
    recorded = 0
    for payment in provider.list_recent_payments(created_after=since):
        if "donation_id" not in payment.metadata:
            continue  # not one of ours
        obj = {
            "id": payment.payment_id,
            "object": "payment_intent",
            "amount": payment.amount,
            "amount_received": payment.amount_received,
            "currency": payment.currency,
            "metadata": payment.metadata,
            "latest_charge": payment.latest_charge or None,
            "status": payment.status,
        }
        if payment.status == "succeeded":
            type_, outcome = "payment_intent.succeeded", "succeeded"
        elif payment.failed:
            type_, outcome = "payment_intent.payment_failed", "failed"
        else:
            continue
        event = _synthetic(f"recon_{payment.payment_id}_{outcome}", type_, obj)
        row, created = record_event(event=event, source="reconcile")
        if created:
            recorded += 1
            apply_event(provider_event_id=row.pk)
    log.info("reconciliation done recorded=%s", recorded)
    return recorded


def record_simulated_outcome(*, donation: Donation, succeed: bool) -> ProviderEvent:
    """The simulated provider's confirmation: the same events Stripe would send, applied the
    same way (for a monthly gift also its first invoice, or its end on a decline)."""
    obj = {
        "id": donation.payment_id,
        "object": "payment_intent",
        "amount": donation.amount_minor,
        "amount_received": donation.amount_minor if succeed else 0,
        "currency": donation.currency,
        "metadata": {"donation_id": str(donation.pk)},
        "latest_charge": f"sim_ch_{donation.pk}" if succeed else None,
    }
    outcome = "succeeded" if succeed else "payment_failed"
    event = _synthetic(f"sim_{donation.payment_id}_{outcome}", f"payment_intent.{outcome}", obj)
    row = receive_event(event=event, source="simulated")
    gift = MonthlyGift.objects.filter(first_donation=donation).first()
    if gift is not None and succeed and donation.invoice_id:
        _simulated_invoice_paid(
            gift=gift, invoice_id=donation.invoice_id, payment_id=donation.payment_id or ""
        )
    elif gift is not None and not succeed:
        sub = {"id": gift.subscription_id, "object": "subscription", "status": "incomplete_expired"}
        receive_event(
            event=_synthetic(
                f"sim_{gift.subscription_id}_ended", "customer.subscription.deleted", sub
            ),
            source="simulated",
        )
    return row


def _simulated_invoice_paid(*, gift: MonthlyGift, invoice_id: str, payment_id: str) -> None:
    first = invoice_id == gift.first_donation.invoice_id
    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "status": "paid",
        "amount_paid": gift.amount_minor,
        "currency": gift.currency,
        "customer": gift.customer_id,
        "billing_reason": "subscription_create" if first else "subscription_cycle",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": gift.subscription_id, "metadata": {}},
        },
        "payments": {
            "object": "list",
            "data": [
                {
                    "status": "paid",
                    "payment": {"type": "payment_intent", "payment_intent": payment_id},
                }
            ],
        },
    }
    receive_event(
        event=_synthetic(f"sim_{invoice_id}_paid", "invoice.paid", invoice), source="simulated"
    )


def record_simulated_renewal(*, monthly_gift_id: int, month: int) -> Donation | None:
    """The simulated provider's month `month` (2, 3, …) of a monthly gift: its invoice is paid
    (once per month, however often this is called). An ended gift charges nothing: None."""
    gift = MonthlyGift.objects.select_related("first_donation").get(pk=monthly_gift_id)
    if gift.status == MonthlyGiftStatus.ENDED or month < 2:
        return None
    invoice_id = f"{gift.subscription_id.replace('sim_sub_', 'sim_in_')}_{month}"
    _simulated_invoice_paid(
        gift=gift, invoice_id=invoice_id, payment_id=f"sim_pi_{invoice_id.removeprefix('sim_in_')}"
    )
    return Donation.objects.filter(invoice_id=invoice_id).first()


def record_simulated_refund(*, donation: Donation, refunded_minor: int, refund_id: str) -> None:
    obj = {
        "id": donation.charge_id or f"sim_ch_{donation.pk}",
        "object": "charge",
        "payment_intent": donation.payment_id,
        "amount": donation.amount_minor,
        "amount_refunded": refunded_minor,
        "currency": donation.currency,
        "paid": True,
    }
    receive_event(event=_synthetic(f"sim_{refund_id}", "charge.refunded", obj), source="simulated")
