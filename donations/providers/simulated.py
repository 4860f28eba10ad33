"""The simulated provider: the same flow with no network, for `make run`, demos and browser
tests. No money moves; the donate panel says so. Refused when DEBUG is off unless
ALLOW_SIMULATED_PAYMENTS is set (see donations.providers.get_provider).

It also fakes the events Stripe would send (a payment confirmed or declined, a month of a
monthly gift paid, a charge refunded): the functions below build them in Stripe's shape, and
the caller receives them through the same store and handlers as a webhook's
(donations.services, donations.refunds). Nothing lives remotely: what Stripe would know, this
reads from our own ledger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from donations.models import Donation, MonthlyGift, MonthlyGiftStatus
from donations.providers.base import (
    BadWebhook,
    CreatedPayment,
    CreatedSubscription,
    PaymentProvider,
    PaymentRequest,
    RefundResult,
    SubscriptionRequest,
)
from donations.providers.stripe_events import ParsedEvent, RemotePayment, make_event


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class SimulatedProvider(PaymentProvider):
    name = "simulated"
    simulated = True

    def create_payment(self, req: PaymentRequest) -> CreatedPayment:
        # Deterministic, like Stripe's idempotency: the same key gives the same payment.
        payment_id = f"sim_pi_{_digest(req.idempotency_key)}"
        return CreatedPayment(payment_id=payment_id, client_secret=f"{payment_id}_secret_sim")

    def create_product(self, *, name: str, idempotency_key: str, metadata: dict[str, str]) -> str:
        return f"sim_prod_{_digest(idempotency_key)}"

    def create_subscription(self, req: SubscriptionRequest) -> CreatedSubscription:
        # Stripe's shape without Stripe: the first invoice's payment is confirmed like a
        # one-off payment (client secret `<payment id>_secret_sim`).
        digest = _digest(req.payment.idempotency_key)
        payment_id = f"sim_pi_{digest}"
        return CreatedSubscription(
            subscription_id=f"sim_sub_{digest}",
            customer_id=f"sim_cus_{digest}",
            invoice_id=f"sim_in_{digest}",
            payment_id=payment_id,
            client_secret=f"{payment_id}_secret_sim",
        )

    def cancel_subscription(self, *, subscription_id: str, idempotency_key: str) -> None:
        return None  # nothing runs remotely: the gift's row is what ends it

    def refund(
        self, *, payment_id: str, amount_minor: int | None, idempotency_key: str
    ) -> RefundResult:
        return RefundResult(refund_id=f"sim_re_{_digest(idempotency_key)}", status="succeeded")

    def list_recent_payments(self, *, created_after: datetime) -> Iterator[RemotePayment]:
        # Nothing lives remotely: every simulated outcome is recorded as it happens.
        return iter(())

    def verify_webhook(self, *, payload: bytes, signature: str | None) -> ParsedEvent:
        raise BadWebhook("Webhooks are not accepted without a Stripe webhook secret.")


# --- The events Stripe would send ---------------------------------------------------------------


def confirmation_events(*, donation: Donation, succeed: bool) -> list[ParsedEvent]:
    """The donor confirmed (or the card was declined): the payment's event, then for a monthly
    gift also its first invoice paid, or its end on a decline."""
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
    events = [make_event(f"sim_{donation.payment_id}_{outcome}", f"payment_intent.{outcome}", obj)]
    gift = MonthlyGift.objects.filter(first_donation=donation).first()
    if gift is not None and succeed and donation.invoice_id:
        events.append(
            _invoice_paid(
                gift=gift, invoice_id=donation.invoice_id, payment_id=donation.payment_id or ""
            )
        )
    elif gift is not None and not succeed:
        sub = {"id": gift.subscription_id, "object": "subscription", "status": "incomplete_expired"}
        events.append(
            make_event(f"sim_{gift.subscription_id}_ended", "customer.subscription.deleted", sub)
        )
    return events


@dataclass(frozen=True)
class Renewal:
    """A later month of a monthly gift: its invoice, and the event saying it was paid."""

    invoice_id: str
    event: ParsedEvent


def renewal(*, gift: MonthlyGift, month: int) -> Renewal | None:
    """Month `month` (2, 3, …) of a monthly gift, paid: the same invoice id (and event id)
    however often it is asked for. An ended gift charges nothing: None."""
    if gift.status == MonthlyGiftStatus.ENDED or month < 2:
        return None
    invoice_id = f"{gift.subscription_id.replace('sim_sub_', 'sim_in_')}_{month}"
    payment_id = f"sim_pi_{invoice_id.removeprefix('sim_in_')}"
    return Renewal(
        invoice_id=invoice_id,
        event=_invoice_paid(gift=gift, invoice_id=invoice_id, payment_id=payment_id),
    )


def refund_event(*, donation: Donation, refunded_minor: int, refund_id: str) -> ParsedEvent:
    """The charge refunded, `refunded_minor` in all so far (Stripe's amount_refunded)."""
    obj = {
        "id": donation.charge_id or f"sim_ch_{donation.pk}",
        "object": "charge",
        "payment_intent": donation.payment_id,
        "amount": donation.amount_minor,
        "amount_refunded": refunded_minor,
        "currency": donation.currency,
        "paid": True,
    }
    return make_event(f"sim_{refund_id}", "charge.refunded", obj)


def _invoice_paid(*, gift: MonthlyGift, invoice_id: str, payment_id: str) -> ParsedEvent:
    first = invoice_id == gift.first_donation.invoice_id
    invoice: dict[str, Any] = {
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
    return make_event(f"sim_{invoice_id}_paid", "invoice.paid", invoice)
