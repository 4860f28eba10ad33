"""The simulated provider: the same flow with no network, for `make run`, demos and browser
tests. No money moves; the donate panel says so. Refused when DEBUG is off unless
ALLOW_SIMULATED_PAYMENTS is set (see donations.providers.get_provider)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from donations.providers.base import (
    BadWebhook,
    CreatedPayment,
    CreatedSubscription,
    PaymentProvider,
    RefundResult,
    RemotePayment,
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class SimulatedProvider(PaymentProvider):
    name = "simulated"
    simulated = True

    def create_payment(
        self,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
        description: str,
    ) -> CreatedPayment:
        # Deterministic, like Stripe's idempotency: the same key gives the same payment.
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        payment_id = f"sim_pi_{digest}"
        return CreatedPayment(payment_id=payment_id, client_secret=f"{payment_id}_secret_sim")

    def create_product(self, *, name: str, idempotency_key: str, metadata: dict[str, str]) -> str:
        return f"sim_prod_{_digest(idempotency_key)}"

    def create_subscription(
        self,
        *,
        product_id: str,
        amount_minor: int,
        currency: str,
        email: str,
        name: str,
        idempotency_key: str,
        metadata: dict[str, str],
        description: str,
    ) -> CreatedSubscription:
        # Stripe's shape without Stripe: the first invoice's payment is confirmed like a
        # one-off payment (client secret `<payment id>_secret_sim`).
        digest = _digest(idempotency_key)
        payment_id = f"sim_pi_{digest}"
        return CreatedSubscription(
            subscription_id=f"sim_sub_{digest}",
            customer_id=f"sim_cus_{digest}",
            invoice_id=f"sim_in_{digest}",
            payment_id=payment_id,
            client_secret=f"{payment_id}_secret_sim",
        )

    def refund(
        self, *, payment_id: str, amount_minor: int | None, idempotency_key: str
    ) -> RefundResult:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return RefundResult(refund_id=f"sim_re_{digest}", status="succeeded")

    def list_recent_payments(self, *, created_after: datetime) -> Iterator[RemotePayment]:
        # Nothing lives remotely: every simulated outcome is recorded as it happens.
        return iter(())

    def verify_webhook(self, *, payload: bytes, signature: str | None) -> dict[str, Any]:
        raise BadWebhook("Webhooks are not accepted without a Stripe webhook secret.")
