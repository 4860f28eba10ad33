"""What each provider event does to the ledger: the `{type: handler}` table, and the handlers of
one-off payments (success, failure, refund, dispute). Monthly gifts' handlers are in
donations.webhooks.monthly.

Applying is idempotent and order-independent: each handler only adds monotone facts to the
donation (a success was seen, the highest refunded amount, the latest dispute state), and
`ledger.commit_donation_state` moves the tallies by the difference it makes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from donations import ledger, saved_donors
from donations.models import DISPUTE_RANK, DisputeState, Donation, IssueKind, ProviderEvent
from donations.providers.stripe_events import (
    ChargeRefund,
    DisputeEvent,
    EventObject,
    InvoicePaid,
    InvoicePaymentPaid,
    PaymentIntentEvent,
    SubscriptionChange,
)
from donations.webhooks import monthly
from donations.webhooks.issues import check_amount, record_issue

log = logging.getLogger(__name__)

K = TypeVar("K", bound=EventObject)
PaymentObject = PaymentIntentEvent | ChargeRefund | DisputeEvent
P = TypeVar("P", PaymentIntentEvent, ChargeRefund, DisputeEvent)

Handler = Callable[[ProviderEvent, EventObject], None]


def handle(row: ProviderEvent, obj: EventObject | None) -> None:
    """Run the event's handler (in the applying transaction); an event type we do not read
    does nothing."""
    handler = HANDLERS.get(row.type)
    if handler is not None and obj is not None:
        handler(row, obj)


def _apply_to_donation(
    row: ProviderEvent, obj: PaymentObject, change: Callable[[Donation], bool]
) -> None:
    """Lock the payment's donation with its donor's other donations, let `change` add facts
    (returning False to leave it untouched), then commit the new state and tally. An unknown
    payment is recorded for staff."""
    payment_id = obj.payment_id
    locked = ledger.lock_donor_donations(payment_id=payment_id) if payment_id else None
    if locked is None and isinstance(obj, PaymentIntentEvent) and _adopt_payment(obj):
        locked = ledger.lock_donor_donations(payment_id=payment_id)
    if locked is None and isinstance(obj, PaymentIntentEvent) and monthly.is_monthly_customer(obj):
        # A later month's payment: that month is counted by its invoice.paid.
        log.info("monthly payment left to its invoice event_id=%s", row.event_id)
        return
    if locked is None:
        record_issue(
            row,
            IssueKind.UNKNOWN_DONATION,
            f"{row.type} for payment {payment_id or '(none)'} matches no donation.",
            None,
            obj.campaign_id,
        )
        return
    donation, others = locked
    before = ledger.MoneyState(net_minor=donation.net_minor)
    if change(donation):
        ledger.commit_donation_state(donation=donation, before=before, others=others)


def _adopt_payment(payment: PaymentIntentEvent) -> bool:
    """A payment of ours whose id we never stored (the provider created it, then our write of
    its id failed): link it through the donation id in its metadata, if that donation has no
    payment yet. Returns whether it linked one."""
    ref = payment.donation_ref or ""
    if not payment.payment_id or not (ref.isascii() and ref.isdigit()):
        return False
    return bool(
        Donation.objects.filter(pk=int(ref), payment_id=None).update(payment_id=payment.payment_id)
    )


def _on_payment(
    change: Callable[[ProviderEvent, P, Donation], bool],
) -> Callable[[ProviderEvent, P], None]:
    def handler(row: ProviderEvent, obj: P) -> None:
        _apply_to_donation(row, obj, lambda donation: change(row, obj, donation))

    return handler


def _payment_succeeded(row: ProviderEvent, payment: PaymentIntentEvent, donation: Donation) -> bool:
    if not check_amount(row, donation, amount=payment.amount_received, currency=payment.currency):
        return False
    donation.succeeded_seen = True
    if payment.latest_charge is not None:
        donation.charge_id = payment.latest_charge
    return True


def _on_payment_succeeded(row: ProviderEvent, payment: PaymentIntentEvent) -> None:
    """The donation succeeds; a card the donor asked to save with it is saved (the payment
    names the payment method that paid)."""
    _apply_to_donation(row, payment, lambda d: _payment_succeeded(row, payment, d))
    saved_donors.record_payment_method(
        payment_id=payment.payment_id or "",
        payment_method_id=payment.payment_method,
        customer_id=payment.customer,
    )


def _payment_failed(row: ProviderEvent, payment: PaymentIntentEvent, donation: Donation) -> bool:
    donation.failed_seen = True  # a success, before or after, still wins
    return True


def _charge_refunded(row: ProviderEvent, refund: ChargeRefund, donation: Donation) -> bool:
    if not check_amount(row, donation, amount=refund.amount, currency=refund.currency):
        return False
    refunded = refund.amount_refunded
    if refunded is None or refunded < 0:
        return False
    # A refunded charge was paid, even if its success event has not arrived yet.
    donation.succeeded_seen = True
    donation.charge_id = donation.charge_id or refund.charge_id
    # amount_refunded is cumulative: the largest seen is the truth, whatever the order.
    donation.refunded_minor = min(max(donation.refunded_minor, refunded), donation.amount_minor)
    return True


def _dispute(
    state_of: Callable[[DisputeEvent], DisputeState],
) -> Callable[[ProviderEvent, DisputeEvent, Donation], bool]:
    def change(row: ProviderEvent, dispute: DisputeEvent, donation: Donation) -> bool:
        if str(dispute.currency).lower() != donation.currency:
            return check_amount(row, donation, amount=dispute.amount, currency=dispute.currency)
        state = state_of(dispute)
        donation.succeeded_seen = True  # only a paid charge can be disputed
        if DISPUTE_RANK[state] > DISPUTE_RANK[DisputeState(donation.dispute_state)]:
            donation.dispute_state = state
            donation.dispute_id = dispute.dispute_id
        if dispute.amount is not None and dispute.amount > 0:
            donation.disputed_minor = min(
                max(donation.disputed_minor, dispute.amount), donation.amount_minor
            )
        return True

    return change


def _typed(kind: type[K], handler: Callable[[ProviderEvent, K], None]) -> Handler:
    """A table entry: the handler of one kind of event object (the parser gives each event
    type its kind, so a mismatch is a bug and raises)."""

    def run(row: ProviderEvent, obj: EventObject) -> None:
        if not isinstance(obj, kind):
            raise TypeError(f"{row.type} carries {type(obj).__name__}, not {kind.__name__}")
        handler(row, obj)

    return run


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _typed(PaymentIntentEvent, _on_payment_succeeded),
    "payment_intent.payment_failed": _typed(PaymentIntentEvent, _on_payment(_payment_failed)),
    "charge.refunded": _typed(ChargeRefund, _on_payment(_charge_refunded)),
    "charge.dispute.created": _typed(
        DisputeEvent, _on_payment(_dispute(lambda _: DisputeState.OPEN))
    ),
    "charge.dispute.closed": _typed(
        DisputeEvent,
        _on_payment(_dispute(lambda d: DisputeState.LOST if d.lost else DisputeState.WON)),
    ),
    "invoice.paid": _typed(InvoicePaid, monthly.on_invoice_paid),
    "invoice_payment.paid": _typed(InvoicePaymentPaid, monthly.on_invoice_payment_paid),
    "customer.subscription.updated": _typed(SubscriptionChange, monthly.on_subscription_changed),
    "customer.subscription.deleted": _typed(SubscriptionChange, monthly.on_subscription_changed),
}
