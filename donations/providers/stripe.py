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

from donations.donors import DonorDetails
from donations.providers.base import (
    BadWebhook,
    CardDetails,
    CardUse,
    CreatedPayment,
    CreatedSubscription,
    PaymentDeclined,
    PaymentProvider,
    PaymentRequest,
    ProviderError,
    ProviderRateLimited,
    RefundResult,
    SubscriptionRequest,
    SubscriptionUpdate,
)
from donations.providers.stripe_events import (
    VERSION_METADATA_KEY,
    ParsedEvent,
    RemotePayment,
    SubscriptionChange,
    parse_event,
    parse_subscription,
)

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
        params: dict[str, Any] = {
            "amount": req.amount_minor,
            "currency": req.currency,
            "automatic_payment_methods": {"enabled": True},
            "metadata": req.metadata,
            "description": req.description,
            **_card_params(req.card),
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
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
        params: dict[str, Any] = {
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
        }
        if monthly.card.payment_method_id:  # a returning donor's saved card
            params["default_payment_method"] = monthly.card.payment_method_id
        try:
            customer_id = monthly.card.customer_id or (
                self._client.v1.customers.create(
                    params={
                        "email": donor.email,
                        "name": donor.full_name,
                        "metadata": monthly.metadata,
                    },
                    options={"idempotency_key": f"{monthly.idempotency_key}-customer"},
                ).id
            )
            subscription = self._client.v1.subscriptions.create(
                params={"customer": customer_id, **params},  # type: ignore[arg-type]
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
            customer_id=customer_id,
            invoice_id=invoice.id or "",
            payment_id=payment_id,
            client_secret=invoice.confirmation_secret.client_secret,
        )

    def update_subscription(self, req: SubscriptionUpdate) -> SubscriptionChange:
        """`Subscription.modify`: the item's new price as `price_data` on the campaign's
        product (the item's id read first: a price is changed on the item, never added), no
        proration (a gift changes from the next month); `pause_collection` with behavior
        "void" to pause, unset ("") to resume; our change counter in the metadata."""
        params: dict[str, Any] = {
            "metadata": {VERSION_METADATA_KEY: str(req.version)},
            "proration_behavior": "none",
        }
        if req.paused is not None:
            params["pause_collection"] = {"behavior": "void"} if req.paused else ""
        try:
            if req.price is not None:
                current = self._client.v1.subscriptions.retrieve(req.subscription_id)
                items = (current.to_dict().get("items") or {}).get("data") or []
                if len(items) != 1:
                    raise ProviderError("Stripe returned a monthly gift without its one item.")
                params["items"] = [
                    {
                        "id": items[0]["id"],
                        "price_data": {
                            "currency": req.price.currency,
                            "product": req.price.product_id,
                            "unit_amount": req.price.amount_minor,
                            "recurring": {"interval": "month"},
                        },
                    }
                ]
            subscription = self._client.v1.subscriptions.update(
                req.subscription_id,
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": req.idempotency_key},
            )
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc
        return parse_subscription(subscription.to_dict())

    def cancel_subscription(
        self, *, subscription_id: str, idempotency_key: str
    ) -> SubscriptionChange:
        """`Subscription.cancel`. Stripe refuses to cancel one that has ended already (someone
        cancelled it elsewhere): then the subscription is read and answered as it is."""
        try:
            subscription = self._client.v1.subscriptions.cancel(
                subscription_id, options={"idempotency_key": idempotency_key}
            )
        except stripe_lib.InvalidRequestError as exc:
            try:
                current = self._client.v1.subscriptions.retrieve(subscription_id)
            except stripe_lib.StripeError:
                raise _translate(exc) from exc
            state = parse_subscription(current.to_dict())
            if state.gift_status != "ended":
                raise _translate(exc) from exc
            return state
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc
        return parse_subscription(subscription.to_dict())

    def create_customer(self, *, donor: DonorDetails, idempotency_key: str) -> str:
        try:
            customer = self._client.v1.customers.create(
                params={"email": donor.email, "name": donor.full_name},
                options={"idempotency_key": idempotency_key},
            )
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc
        return customer.id

    def retrieve_card(self, *, payment_method_id: str) -> CardDetails:
        try:
            method = self._client.v1.payment_methods.retrieve(payment_method_id)
        except stripe_lib.StripeError as exc:
            raise _translate(exc) from exc
        card = method.card if method.type == "card" else None
        if card is None:
            return CardDetails(brand=method.type)
        return CardDetails(
            brand=card.brand, last4=card.last4, exp_month=card.exp_month, exp_year=card.exp_year
        )

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
                    payment_method=_id(getattr(intent, "payment_method", None)),
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


def _card_params(card: CardUse) -> dict[str, str]:
    """A PaymentIntent's parameters that save a card (`setup_future_usage` off-session: later
    gifts are charged with the donor on the page, but the bank may still be asked then) or pay
    with a saved one."""
    params = {}
    if card.customer_id:
        params["customer"] = card.customer_id
    if card.payment_method_id:
        params["payment_method"] = card.payment_method_id
    elif card.save:
        params["setup_future_usage"] = "off_session"
    return params


def _id(value: Any) -> str:
    """An id that may come expanded (an object with its own id)."""
    found = getattr(value, "id", value)
    return found if isinstance(found, str) else ""


def _signature_timestamp(header: str) -> int:
    for item in header.split(","):
        name, _, value = item.partition("=")
        if name.strip() == "t":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
