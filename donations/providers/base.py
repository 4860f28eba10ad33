"""The payment provider interface: the rest of the code talks to this, never to `stripe`.

Boundary objects are dataclasses; failures are the exceptions below, each with a message a
donor or staff member can read.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from donations.donors import DonorDetails
from donations.providers.stripe_events import ParsedEvent, RemotePayment


class ProviderError(Exception):
    """The provider could not do what we asked (outage, bad answer). Safe to retry later."""


class ProviderRateLimited(ProviderError):
    """The provider asked us to slow down (HTTP 429). Retry with backoff, same idempotency key."""


class PaymentDeclined(ProviderError):
    """The provider refused the payment itself (HTTP 402); `message` is meant for the donor."""


class BadWebhook(Exception):
    """A webhook whose signature, timestamp or body we refuse."""


@dataclass(frozen=True)
class PaymentRequest:
    """A payment to create: `amount_minor` in `currency`, labelled with our `metadata` and a
    `description` at the provider. The same `idempotency_key` finds the same payment again."""

    amount_minor: int
    currency: str
    idempotency_key: str
    metadata: dict[str, str]
    description: str


@dataclass(frozen=True)
class SubscriptionRequest:
    """A monthly gift to create: `payment` is each month's (its idempotency key, metadata and
    description also name the customer and the subscription), priced on `product_id`, for
    `donor` as the provider's customer."""

    product_id: str
    donor: DonorDetails
    payment: PaymentRequest


@dataclass(frozen=True)
class CreatedPayment:
    payment_id: str
    client_secret: str


@dataclass(frozen=True)
class CreatedSubscription:
    """A monthly gift at the provider, waiting for its first payment: the first invoice's
    payment is confirmed in the browser with `client_secret`, like a one-off payment."""

    subscription_id: str
    customer_id: str
    invoice_id: str
    payment_id: str  # the first invoice's payment (PaymentIntent)
    client_secret: str


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: str


class PaymentProvider(abc.ABC):
    name: str
    # Shown on the donate panel when no real money moves.
    simulated: bool = False
    publishable_key: str = ""

    @abc.abstractmethod
    def create_payment(self, req: PaymentRequest) -> CreatedPayment:
        """Create (or, with the same idempotency key, find again) a payment to confirm in the
        browser. Raises ProviderRateLimited, PaymentDeclined or ProviderError."""

    @abc.abstractmethod
    def create_product(self, *, name: str, idempotency_key: str, metadata: dict[str, str]) -> str:
        """A product to price monthly gifts on (one per campaign, stored by the caller).
        Returns its id. Raises ProviderRateLimited or ProviderError."""

    @abc.abstractmethod
    def create_subscription(self, req: SubscriptionRequest) -> CreatedSubscription:
        """A customer (the donor) and a monthly subscription for them whose first invoice waits
        for the donor's payment (or, with the same idempotency key, the same ones again). Raises
        ProviderRateLimited, PaymentDeclined or ProviderError."""

    @abc.abstractmethod
    def cancel_subscription(self, *, subscription_id: str, idempotency_key: str) -> None:
        """End a monthly gift now: no further charges (the same key cancels once). A
        subscription that has already ended is left as it is (no error). Raises
        ProviderRateLimited or ProviderError."""

    @abc.abstractmethod
    def refund(
        self, *, payment_id: str, amount_minor: int | None, idempotency_key: str
    ) -> RefundResult:
        """Refund all (None) or part of a payment. Raises ProviderError."""

    @abc.abstractmethod
    def list_recent_payments(self, *, created_after: datetime) -> Iterator[RemotePayment]:
        """Every payment created after the time, following the provider's pagination."""

    @abc.abstractmethod
    def verify_webhook(self, *, payload: bytes, signature: str | None) -> ParsedEvent:
        """The event in a webhook body once its signature and timestamp check out; raises
        BadWebhook otherwise."""
