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
from donations.providers.stripe_events import ParsedEvent, RemotePayment, SubscriptionChange


class ProviderError(Exception):
    """The provider could not do what we asked (outage, bad answer). Safe to retry later."""


class ProviderRateLimited(ProviderError):
    """The provider asked us to slow down (HTTP 429). Retry with backoff, same idempotency key."""


class PaymentDeclined(ProviderError):
    """The provider refused the payment itself (HTTP 402); `message` is meant for the donor."""


class BadWebhook(Exception):
    """A webhook whose signature, timestamp or body we refuse."""


@dataclass(frozen=True)
class CardUse:
    """What a payment does with a donor's card beyond paying: `save` it for later gifts, kept
    under the provider's customer `customer_id`; or pay with `payment_method_id`, a card saved
    under `customer_id` (the donor then confirms on the page: 3-D Secure when the bank asks).
    The default does neither."""

    customer_id: str = ""
    payment_method_id: str = ""
    save: bool = False


NO_CARD = CardUse()


@dataclass(frozen=True)
class CardDetails:
    """What the donor is shown of a saved payment method: the card's brand ("visa",
    "mastercard", …; "link" for Link, or the method's type for another kind) and last four
    digits, and its expiry (None when it has none)."""

    brand: str
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True)
class PaymentRequest:
    """A payment to create: `amount_minor` in `currency`, labelled with our `metadata` and a
    `description` at the provider, saving or using a card as `card` says. The same
    `idempotency_key` finds the same payment again."""

    amount_minor: int
    currency: str
    idempotency_key: str
    metadata: dict[str, str]
    description: str
    card: CardUse = NO_CARD


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
class MonthlyPrice:
    """What a monthly gift charges each month, priced on the campaign's `product_id`."""

    product_id: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class SubscriptionUpdate:
    """A change the donor asked for on their monthly gift: a new `price`, collection paused
    (True) or resumed (False), or both; None leaves that part as it is. `version` is our count
    of changes with this one, kept on the subscription (its metadata) so that its later news
    can be told from older news. The same `idempotency_key` makes the same change once."""

    subscription_id: str
    idempotency_key: str
    version: int
    price: MonthlyPrice | None = None
    paused: bool | None = None


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
    def update_subscription(self, req: SubscriptionUpdate) -> SubscriptionChange:
        """Change a subscription's price (from the next month on, no proration) and/or pause
        its collection (invoices voided while paused) or resume it. Returns the subscription
        as it is after the change. Raises ProviderRateLimited or ProviderError."""

    @abc.abstractmethod
    def cancel_subscription(
        self, *, subscription_id: str, idempotency_key: str
    ) -> SubscriptionChange:
        """End a subscription now: nothing more is charged. A subscription that had already
        ended answers as it is. Raises ProviderRateLimited or ProviderError."""

    @abc.abstractmethod
    def create_customer(self, *, donor: DonorDetails, idempotency_key: str) -> str:
        """A customer for the donor, to keep their card under (or, with the same idempotency
        key, the same one again). Returns its id. Raises ProviderRateLimited or ProviderError."""

    @abc.abstractmethod
    def retrieve_card(self, *, payment_method_id: str) -> CardDetails:
        """What a saved payment method shows the donor. Raises ProviderError (for one the
        provider does not know, too)."""

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
