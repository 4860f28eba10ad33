"""Stripe's events as typed values: the one parser every received or stored event goes through,
and the builder of Stripe-shaped events we make ourselves (reconciliation findings, the
simulated provider's payments). The only module that knows the shape of an event's JSON; the
rest of the code reads the frozen dataclasses below.

Parsing never raises for a field that is missing or of another type: the value says so (None,
or "" where the handlers treat "absent" and "empty" alike), and the handlers decide. Only an
event without an id is refused (MalformedEvent): it cannot be stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class RemotePayment:
    """A payment as the provider lists it (for reconciliation)."""

    payment_id: str
    status: str  # "succeeded", "canceled", "requires_payment_method", "processing", …
    amount_received: int
    amount: int
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)
    latest_charge: str = ""
    created: datetime | None = None
    failed: bool = False
    payment_method: str = ""  # the payment method that paid ("" when none is known)


class MalformedEvent(ValueError):
    """Not a Stripe event: not a JSON object, or no id."""


@dataclass(frozen=True)
class PaymentIntentEvent:
    """`payment_intent.succeeded` / `payment_intent.payment_failed`."""

    payment_id: str | None
    amount_received: int | None
    currency: str | None
    latest_charge: str | None  # None unless Stripe named the charge
    customer: str  # "" when the payment has no customer (a one-off gift)
    payment_method: str  # "" when the event names none
    donation_ref: str | None  # the donation id our metadata carries, as sent
    campaign_id: int | None  # the campaign our metadata names, when it is a number


@dataclass(frozen=True)
class ChargeRefund:
    """`charge.refunded`: `amount_refunded` is cumulative over the charge's refunds."""

    payment_id: str | None
    charge_id: str
    amount: int | None
    amount_refunded: int | None
    currency: str | None
    campaign_id: int | None


@dataclass(frozen=True)
class DisputeEvent:
    """`charge.dispute.created` / `charge.dispute.closed`."""

    payment_id: str | None
    dispute_id: str
    amount: int | None
    currency: str | None
    lost: bool  # a closed dispute the campaign lost (else won)
    campaign_id: int | None


@dataclass(frozen=True)
class InvoicePaid:
    """`invoice.paid`: one month of a monthly gift (the first, or a later one)."""

    invoice_id: str
    customer: str
    first: bool  # the subscription's first invoice (billing_reason subscription_create)
    subscription_id: str
    donation_ref: str | None  # the donation id in the subscription's metadata, as sent
    campaign_id: int | None  # the campaign in the subscription's metadata
    payment_id: str  # the PaymentIntent that paid it, when the invoice carries its payments
    amount_paid: int | None
    currency: str | None


@dataclass(frozen=True)
class InvoicePaymentPaid:
    """`invoice_payment.paid`: which PaymentIntent paid which invoice."""

    invoice_id: str
    payment_id: str


@dataclass(frozen=True)
class SubscriptionChange:
    """`customer.subscription.updated` / `.deleted`, or a subscription as the API answered a
    change (then `changed_at` is None)."""

    subscription_id: str
    # What Stripe's status means for a monthly gift: "incomplete", "active" or "ended"
    # (MonthlyGiftStatus values); None for a status we do not act on.
    gift_status: str | None
    ended_at: datetime | None
    # Collection paused (`pause_collection` set); None when the object does not say.
    paused: bool | None = None
    # Charged each month (the items' unit amounts times quantities) and in what; None when
    # the object carries no items with whole amounts.
    amount_minor: int | None = None
    currency: str | None = None
    # Our own changes' counter, as our last change put it in the metadata (0: none yet).
    version: int = 0
    # When Stripe made the event (its clock, whole seconds).
    changed_at: datetime | None = None


EventObject = (
    PaymentIntentEvent
    | ChargeRefund
    | DisputeEvent
    | InvoicePaid
    | InvoicePaymentPaid
    | SubscriptionChange
)
# The events that concern one payment (the claim links the event row to its donation).
PAYMENT_EVENT_OBJECTS = (PaymentIntentEvent, ChargeRefund, DisputeEvent)


@dataclass(frozen=True)
class ParsedEvent:
    """One provider event: its id and type, what it says (None for a type we do not read), and
    the event as received, kept only to be stored as is."""

    event_id: str
    type: str
    object: EventObject | None
    payload: Mapping[str, Any]

    @property
    def payment_id(self) -> str | None:
        """The payment a payment event concerns; None for other events."""
        if isinstance(self.object, PAYMENT_EVENT_OBJECTS):
            return self.object.payment_id
        return None


# Where a stored event's JSON names the invoice of an `invoice_payment.paid` (the event store
# looks these up, through the partial index donations.models names the same way).
STORED_INVOICE_PAYMENT_INVOICE = "payload__data__object__invoice"

# Stripe's subscription statuses as far as a monthly gift cares.
_GIFT_STATUS = {
    "incomplete": "incomplete",
    "active": "active",
    "trialing": "active",
    "past_due": "active",  # Stripe still retries the month's payment
    "canceled": "ended",
    "incomplete_expired": "ended",
    "unpaid": "ended",
}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _id_of(value: Any) -> str:
    """An id that may come expanded (an object with its own id)."""
    if isinstance(value, dict):
        value = value.get("id")
    return _text(value)


def _number(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isascii() and text.isdigit() else None


def _donation_ref(metadata: Mapping[str, Any]) -> str | None:
    value = metadata.get("donation_id")
    return None if value is None else str(value)


def _payment_intent(obj: Mapping[str, Any]) -> PaymentIntentEvent:
    metadata = _dict(obj.get("metadata"))
    return PaymentIntentEvent(
        payment_id=_str_or_none(obj.get("id")),
        amount_received=_int_or_none(obj.get("amount_received")),
        currency=_str_or_none(obj.get("currency")),
        latest_charge=_str_or_none(obj.get("latest_charge")),
        customer=_id_of(obj.get("customer")),
        payment_method=_id_of(obj.get("payment_method")),
        donation_ref=_donation_ref(metadata),
        campaign_id=_number(metadata.get("campaign_id")),
    )


def _charge_refund(obj: Mapping[str, Any]) -> ChargeRefund:
    return ChargeRefund(
        payment_id=_str_or_none(obj.get("payment_intent")),
        charge_id=str(obj.get("id", "")),
        amount=_int_or_none(obj.get("amount")),
        amount_refunded=_int_or_none(obj.get("amount_refunded")),
        currency=_str_or_none(obj.get("currency")),
        campaign_id=_number(_dict(obj.get("metadata")).get("campaign_id")),
    )


def _dispute(obj: Mapping[str, Any]) -> DisputeEvent:
    return DisputeEvent(
        payment_id=_str_or_none(obj.get("payment_intent")),
        dispute_id=str(obj.get("id", "")),
        amount=_int_or_none(obj.get("amount")),
        currency=_str_or_none(obj.get("currency")),
        lost=obj.get("status") == "lost",
        campaign_id=_number(_dict(obj.get("metadata")).get("campaign_id")),
    )


def _subscription_details(invoice: Mapping[str, Any]) -> Mapping[str, Any] | None:
    details = _dict(invoice.get("parent")).get("subscription_details")
    return details if isinstance(details, dict) else None


def _subscription_of(invoice: Mapping[str, Any]) -> str:
    """`parent.subscription_details.subscription` in this API version; the top-level
    `subscription` of older ones."""
    details = _subscription_details(invoice)
    if details is not None:
        return _id_of(details.get("subscription"))
    return _text(invoice.get("subscription"))


def _payment_in_invoice(invoice: Mapping[str, Any]) -> str:
    """The PaymentIntent that paid the invoice when the invoice carries its `payments` (only
    when expanded: webhooks usually do not)."""
    rows = _dict(invoice.get("payments")).get("data")
    for row in rows if isinstance(rows, list) else []:
        payment = row.get("payment") if isinstance(row, dict) else None
        if isinstance(payment, dict) and row.get("status") in (None, "paid"):
            intent = _id_of(payment.get("payment_intent"))
            if intent:
                return intent
    return ""


def _invoice_paid(obj: Mapping[str, Any]) -> InvoicePaid:
    metadata = _dict((_subscription_details(obj) or {}).get("metadata"))
    return InvoicePaid(
        invoice_id=_text(obj.get("id")),
        customer=_text(obj.get("customer")),
        first=obj.get("billing_reason") == "subscription_create",
        subscription_id=_subscription_of(obj),
        donation_ref=_donation_ref(metadata),
        campaign_id=_number(metadata.get("campaign_id")),
        payment_id=_payment_in_invoice(obj),
        amount_paid=_int_or_none(obj.get("amount_paid")),
        currency=_str_or_none(obj.get("currency")),
    )


def _invoice_payment_paid(obj: Mapping[str, Any]) -> InvoicePaymentPaid:
    payment = obj.get("payment")
    return InvoicePaymentPaid(
        invoice_id=_text(obj.get("invoice")),
        payment_id=_id_of(payment.get("payment_intent")) if isinstance(payment, dict) else "",
    )


# Where our changes' counter is kept in a subscription's metadata.
VERSION_METADATA_KEY = "pc_version"


def _subscription_amount(obj: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """What the subscription's items charge each period, and in which currency; (None, None)
    unless every item has a whole unit amount, a quantity and one currency."""
    rows = _dict(obj.get("items")).get("data")
    if not isinstance(rows, list) or not rows:
        return None, None
    total, currencies = 0, set()
    for row in rows:
        price = _dict(row.get("price")) if isinstance(row, dict) else {}
        unit = _int_or_none(price.get("unit_amount"))
        quantity = _int_or_none(row.get("quantity", 1)) if isinstance(row, dict) else None
        if unit is None or quantity is None:
            return None, None
        total += unit * quantity
        currencies.add(_text(price.get("currency")).lower())
    if len(currencies) != 1:
        return None, None
    return total, currencies.pop()


def parse_subscription(
    obj: Mapping[str, Any], *, changed_at: datetime | None = None
) -> SubscriptionChange:
    """A subscription object (an event's or an API answer's) as a monthly gift reads it."""
    stamp = _int_or_none(obj.get("ended_at") or obj.get("canceled_at"))
    amount, currency = _subscription_amount(obj)
    version = _number(_dict(obj.get("metadata")).get(VERSION_METADATA_KEY))
    return SubscriptionChange(
        subscription_id=_text(obj.get("id")),
        gift_status=_GIFT_STATUS.get(_text(obj.get("status"))),
        ended_at=datetime.fromtimestamp(stamp, tz=UTC) if stamp is not None else None,
        paused=(obj.get("pause_collection") is not None) if "pause_collection" in obj else None,
        amount_minor=amount,
        currency=currency,
        version=version or 0,
        changed_at=changed_at,
    )


# The event types we read, and how.
_PARSERS: dict[str, Callable[[Mapping[str, Any]], EventObject]] = {
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
    "charge.refunded": _charge_refund,
    "charge.dispute.created": _dispute,
    "charge.dispute.closed": _dispute,
    "invoice.paid": _invoice_paid,
    "invoice_payment.paid": _invoice_payment_paid,
    "customer.subscription.updated": parse_subscription,
    "customer.subscription.deleted": parse_subscription,
}


def parse_event(payload: Mapping[str, Any]) -> ParsedEvent:
    """The event in a Stripe event's JSON (decoded). Raises MalformedEvent without an id."""
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str | int):
        raise MalformedEvent("The body is not a Stripe event.")
    type_ = str(payload.get("type", ""))
    parse = _PARSERS.get(type_)
    obj = _dict(_dict(payload.get("data")).get("object"))
    parsed = parse(obj) if parse is not None else None
    created = _int_or_none(payload.get("created"))
    if isinstance(parsed, SubscriptionChange) and created is not None:
        # A subscription's news is ordered by when Stripe made it (donations.monthly_state).
        parsed = replace(parsed, changed_at=datetime.fromtimestamp(created, tz=UTC))
    return ParsedEvent(event_id=str(payload["id"]), type=type_, object=parsed, payload=payload)


def make_event(event_id: str, type_: str, obj: dict[str, Any]) -> ParsedEvent:
    """An event of our own making, in Stripe's shape (stored and applied like Stripe's)."""
    return parse_event(
        {
            "id": event_id,
            "object": "event",
            "type": type_,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    )


def reconciled_event(payment: RemotePayment) -> ParsedEvent | None:
    """The event our webhook missed for a payment the provider lists (`recon_<payment>_<outcome>`,
    so finding it again stores nothing new); None for a payment that is not ours (no donation
    id in its metadata) or has no outcome yet."""
    if "donation_id" not in payment.metadata:
        return None
    if payment.status == "succeeded":
        type_, outcome = "payment_intent.succeeded", "succeeded"
    elif payment.failed:
        type_, outcome = "payment_intent.payment_failed", "failed"
    else:
        return None
    obj = {
        "id": payment.payment_id,
        "object": "payment_intent",
        "amount": payment.amount,
        "amount_received": payment.amount_received,
        "currency": payment.currency,
        "metadata": payment.metadata,
        "latest_charge": payment.latest_charge or None,
        "payment_method": payment.payment_method or None,
        "status": payment.status,
    }
    return make_event(f"recon_{payment.payment_id}_{outcome}", type_, obj)
