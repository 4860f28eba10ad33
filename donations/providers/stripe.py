"""Stripe, through the official library's StripeClient with a pinned API version.

The only module that imports `stripe`; the events it verifies are read by
donations.providers.stripe_events. The library's own retries are off (max_network_retries=0):
callers retry with jittered backoff under the same idempotency key, which the library does not
do for a 429.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import stripe as stripe_lib

from donations.providers.base import (
    BadWebhook,
    CreatedPayment,
    CreatedSubscription,
    PaymentDeclined,
    PaymentProvider,
    PaymentRequest,
    ProviderError,
    ProviderRateLimited,
    RefundResult,
    SubscriptionRequest,
)
from donations.providers.stripe_events import ParsedEvent, RemotePayment, parse_event

# The version our payloads are read with; Stripe answers and signs events in it.
API_VERSION = "2026-10-28.endive"
# Webhooks signed more than this long ago, or this far in the future, are refused.
WEBHOOK_TOLERANCE_S = 300


def _translate(exc: stripe_lib.StripeError) -> ProviderError:
    if isinstance(exc, stripe_lib.RateLimitError):
        return ProviderRateLimited("Stripe is rate limiting us.")
    if isinstance(exc, stripe_lib.CardError):
        return PaymentDeclined(exc.user_message or "Your card was declined.")
    return ProviderError(f"Stripe error: {type(exc).__name__} (HTTP {exc.http_status})")


class StripeProvider(PaymentProvider):
    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str,
        api_base: str = "",
        timeout_s: float = 10.0,
    ) -> None:
        self.publishable_key = publishable_key
        self._webhook_secret = webhook_secret
        http_client = stripe_lib.RequestsClient(timeout=timeout_s)
        self._client = stripe_lib.StripeClient(
            secret_key,
            stripe_version=API_VERSION,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=0,
            http_client=http_client,
        )

    def create_payment(self, req: PaymentRequest) -> CreatedPayment:
        try:
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": req.amount_minor,
                    "currency": req.currency,
                    "automatic_payment_methods": {"enabled": True},
                    "metadata": req.metadata,
                    "description": req.description,
                },
                options={"idempotency_key": req.idempotency_key},
            )
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc
        return CreatedPayment(payment_id=intent.id, client_secret=intent.client_secret or "")

    def create_product(self, *, name: str, idempotency_key: str, metadata: dict[str, str]) -> str:
        try:
            product = self._client.v1.products.create(
                params={"name": name, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc
        return product.id

    def create_subscription(self, req: SubscriptionRequest) -> CreatedSubscription:
        """Customer, then Subscription (`default_incomplete`: the first invoice is finalized
        with a PaymentIntent the Payment Element confirms; the card is then saved on the
        subscription for the next months). In this API version the invoice no longer has a
        `payment_intent`: its client secret is `confirmation_secret` and the PaymentIntent is
        in `payments` (both only when expanded)."""
        monthly, donor = req.payment, req.donor
        try:
            customer = self._client.v1.customers.create(
                params={
                    "email": donor.email,
                    "name": donor.full_name,
                    "metadata": monthly.metadata,
                },
                options={"idempotency_key": f"{monthly.idempotency_key}-customer"},
            )
            subscription = self._client.v1.subscriptions.create(
                params={
                    "customer": customer.id,
                    "items": [
                        {
                            "price_data": {
                                "currency": monthly.currency,
                                "product": req.product_id,
                                "unit_amount": monthly.amount_minor,
                                "recurring": {"interval": "month"},
                            }
                        }
                    ],
                    "payment_behavior": "default_incomplete",
                    "payment_settings": {"save_default_payment_method": "on_subscription"},
                    "metadata": monthly.metadata,
                    "description": monthly.description,
                    "expand": ["latest_invoice.confirmation_secret", "latest_invoice.payments"],
                },
                options={"idempotency_key": f"{monthly.idempotency_key}-subscription"},
            )
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc
        invoice = subscription.latest_invoice
        if not isinstance(invoice, stripe_lib.Invoice) or invoice.confirmation_secret is None:
            raise ProviderError("Stripe returned a subscription without its first invoice.")
        payment_id = ""
        for paid_by in invoice.payments.data if invoice.payments else []:
            intent = paid_by.payment.payment_intent
            if intent is not None:
                payment_id = intent if isinstance(intent, str) else intent.id
                break
        if not payment_id:
            raise ProviderError("Stripe returned a first invoice without its payment.")
        return CreatedSubscription(
            subscription_id=subscription.id,
            customer_id=customer.id,
            invoice_id=invoice.id or "",
            payment_id=payment_id,
            client_secret=invoice.confirmation_secret.client_secret,
        )

    def cancel_subscription(self, *, subscription_id: str, idempotency_key: str) -> None:
        try:
            subscription = self._client.v1.subscriptions.retrieve(subscription_id)
            if subscription.status in ("canceled", "incomplete_expired"):
                return
            self._client.v1.subscriptions.cancel(
                subscription_id, options={"idempotency_key": idempotency_key}
            )
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc

    def refund(
        self, *, payment_id: str, amount_minor: int | None, idempotency_key: str
    ) -> RefundResult:
        params: dict[str, Any] = {"payment_intent": payment_id}
        if amount_minor is not None:
            params["amount"] = amount_minor
        try:
            refund = self._client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc
        return RefundResult(refund_id=refund.id, status=refund.status or "")

    def list_recent_payments(self, *, created_after: datetime) -> Iterator[RemotePayment]:
        try:
            page = self._client.v1.payment_intents.list(
                params={"created": {"gte": int(created_after.timestamp())}, "limit": 100}
            )
            for intent in page.auto_paging_iter():
                yield RemotePayment(
                    payment_id=intent.id,
                    status=intent.status,
                    amount=intent.amount,
                    amount_received=intent.amount_received or 0,
                    currency=intent.currency,
                    metadata=intent.metadata.to_dict() if intent.metadata else {},
                    latest_charge=str(getattr(intent, "latest_charge", None) or ""),
                    created=datetime.fromtimestamp(intent.created, tz=UTC),
                    failed=intent.last_payment_error is not None,
                )
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc

    def verify_webhook(self, *, payload: bytes, signature: str | None) -> ParsedEvent:
        if not self._webhook_secret:
            raise BadWebhook("No webhook secret is configured.")
        try:
            stripe_lib.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE_S
            )
        except stripe_lib.SignatureVerificationError as exc:
            raise BadWebhook(str(exc).split(".")[0]) from exc
        except UnicodeDecodeError as exc:
            raise BadWebhook("The body is not UTF-8.") from exc
        # The library checks only the past; a timestamp from the future is as suspect.
        timestamp = _signature_timestamp(signature or "")
        if timestamp > time.time() + WEBHOOK_TOLERANCE_S:
            raise BadWebhook("Timestamp is in the future")
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise BadWebhook("The body is not JSON.") from exc
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise BadWebhook("The body is not a Stripe event.")
        return parse_event(event)


def _signature_timestamp(header: str) -> int:
    for item in header.split(","):
        name, _, value = item.partition("=")
        if name.strip() == "t":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
