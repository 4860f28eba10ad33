"""Monthly gifts on the ledger: which donation a paid invoice is, which payment paid it, and
whether the gift still runs. Called by donations.webhooks inside the transaction that applies
a provider event; the money state itself moves through donations.ledger like any donation's.

Each paid invoice is one Donation row, unique by its invoice id: the first invoice is the
donation the donor started; a later month's invoice creates a row of its own (copying the
donor's details from the first), found again by that id on a second delivery.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models.fields.json import KT
from django.utils import timezone

from donations.models import (
    MONTHLY_STATUS_RANK,
    Donation,
    Interval,
    MonthlyGift,
    MonthlyGiftStatus,
    ProviderEvent,
)

log = logging.getLogger(__name__)

# Stripe's subscription statuses as far as a monthly gift cares.
SUBSCRIPTION_STATUS = {
    "incomplete": MonthlyGiftStatus.INCOMPLETE,
    "active": MonthlyGiftStatus.ACTIVE,
    "trialing": MonthlyGiftStatus.ACTIVE,
    "past_due": MonthlyGiftStatus.ACTIVE,  # Stripe still retries the month's payment
    "canceled": MonthlyGiftStatus.ENDED,
    "incomplete_expired": MonthlyGiftStatus.ENDED,
    "unpaid": MonthlyGiftStatus.ENDED,
}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def subscription_of(invoice: dict[str, Any]) -> str:
    """The subscription behind an invoice (`parent.subscription_details.subscription` in this
    API version; the top-level `subscription` of older ones)."""
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    if isinstance(details, dict):
        found = details.get("subscription")
        if isinstance(found, dict):
            found = found.get("id")
        return _text(found)
    return _text(invoice.get("subscription"))


def subscription_metadata(invoice: dict[str, Any]) -> dict[str, Any]:
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    metadata = details.get("metadata") if isinstance(details, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def _lock_invoice(invoice_id: str) -> None:
    """Serialize everything about one invoice (its paid event and its payment's event) until
    the transaction ends, so whichever comes second sees what the first wrote."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"invoice:{invoice_id}"])


def _payment_in_invoice(invoice: dict[str, Any]) -> str:
    """The PaymentIntent that paid the invoice when the invoice carries its `payments`
    (only when expanded: webhooks usually do not)."""
    payments = invoice.get("payments")
    rows = payments.get("data") if isinstance(payments, dict) else None
    for row in rows if isinstance(rows, list) else []:
        payment = row.get("payment") if isinstance(row, dict) else None
        if isinstance(payment, dict) and row.get("status") in (None, "paid"):
            intent = payment.get("payment_intent")
            if isinstance(intent, dict):
                intent = intent.get("id")
            if _text(intent):
                return _text(intent)
    return ""


def _payment_seen_for(invoice_id: str) -> str:
    """The payment an `invoice_payment.paid` event stored earlier named for this invoice."""
    payload = (
        ProviderEvent.objects.filter(type="invoice_payment.paid")
        .alias(invoice=KT("payload__data__object__invoice"))
        .filter(invoice=invoice_id)
        .values_list("payload", flat=True)
        .first()
    )
    if not isinstance(payload, dict):
        return ""
    return _payment_of_invoice_payment(payload.get("data", {}).get("object", {}))


def _payment_of_invoice_payment(obj: dict[str, Any]) -> str:
    payment = obj.get("payment")
    if not isinstance(payment, dict):
        return ""
    intent = payment.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return _text(intent)


def _link_payment(*, donation_id: int, payment_id: str) -> None:
    """Give an installment its payment id (for refunds and disputes), once; a payment id
    already on another row is left where it is."""
    if not payment_id:
        return
    try:
        with transaction.atomic():
            Donation.objects.filter(pk=donation_id, payment_id=None).update(payment_id=payment_id)
    except IntegrityError:
        log.warning("payment already linked payment_id=%s donation_id=%s", payment_id, donation_id)


def _adopt_first(invoice: dict[str, Any], subscription_id: str) -> int | None:
    """The first invoice of a gift whose start we could not finish writing (the provider
    created it, then our write failed): the donation id in the subscription's metadata."""
    if invoice.get("billing_reason") != "subscription_create":
        return None
    donation_id = str(subscription_metadata(invoice).get("donation_id", ""))
    if not donation_id.isdigit():
        return None
    donation = Donation.objects.filter(
        pk=int(donation_id), interval=Interval.MONTH, invoice_id=None
    ).first()
    if donation is None or not subscription_id:
        return None
    gift, _ = MonthlyGift.objects.get_or_create(
        subscription_id=subscription_id,
        defaults={
            "campaign_id": donation.campaign_id,
            "event_id": donation.event_id,
            "first_donation": donation,
            "provider": donation.provider or "stripe",
            "customer_id": _text(invoice.get("customer")),
            "amount_minor": donation.amount_minor,
            "currency": donation.currency,
        },
    )
    Donation.objects.filter(pk=donation.pk).update(invoice_id=invoice["id"], monthly_gift=gift)
    return donation.pk


def _new_installment(gift: MonthlyGift, invoice_id: str) -> int:
    """A later month: a new donation row copying the first one's donor details. Its attempt
    key is derived from the invoice id, so it is as unique as the invoice."""
    first = gift.first_donation
    installment = Donation.objects.create(
        event_id=gift.event_id,
        campaign_id=gift.campaign_id,
        attempt_key=uuid.uuid5(uuid.NAMESPACE_URL, f"pledgecast:invoice:{invoice_id}"),
        provider=gift.provider,
        gift_minor=first.gift_minor,
        fee_minor=first.fee_minor,
        amount_minor=first.amount_minor,
        currency=first.currency,
        interval=gift.interval,
        monthly_gift=gift,
        invoice_id=invoice_id,
        email=first.email,
        first_name=first.first_name,
        last_name=first.last_name,
        address_line1=first.address_line1,
        address_line2=first.address_line2,
        city=first.city,
        region=first.region,
        postal_code=first.postal_code,
        country=first.country,
        employer=first.employer,
        occupation=first.occupation,
        attestations=first.attestations,
        # The ticker is the live moment of the first gift; later months count, quietly.
        ticker_opt_in=False,
        anonymous=first.anonymous,
        hide_amount=first.hide_amount,
        display_name=first.display_name,
        refcode=first.refcode,
    )
    log.info("monthly installment donation_id=%s monthly_gift_id=%s", installment.pk, gift.pk)
    return installment.pk


def invoice_donation(*, invoice: dict[str, Any]) -> int | None:
    """The donation a paid invoice is (creating a later month's row once), with the payment
    that paid it linked when known; None when the invoice is none of our monthly gifts.
    Holds the invoice's advisory lock until the caller's transaction ends."""
    invoice_id = _text(invoice.get("id"))
    if not invoice_id:
        return None
    _lock_invoice(invoice_id)
    subscription_id = subscription_of(invoice)
    found = Donation.objects.filter(invoice_id=invoice_id).values_list("pk", flat=True).first()
    if found is None:
        found = _adopt_first(invoice, subscription_id)
    if found is None and subscription_id:
        gift = (
            MonthlyGift.objects.select_related("first_donation")
            .filter(subscription_id=subscription_id)
            .first()
        )
        if gift is not None:
            found = _new_installment(gift, invoice_id)
    if found is None:
        return None
    _link_payment(
        donation_id=found,
        payment_id=_payment_in_invoice(invoice) or _payment_seen_for(invoice_id),
    )
    if subscription_id:
        set_gift_status(subscription_id=subscription_id, status=MonthlyGiftStatus.ACTIVE)
    return found


def invoice_payment_paid(*, invoice_payment: dict[str, Any]) -> int | None:
    """`invoice_payment.paid`: link the payment to its invoice's donation if that row exists;
    if not, the stored event is found again when the invoice's own event comes
    (`_payment_seen_for`). Returns the donation id linked, if any."""
    invoice_id = _text(invoice_payment.get("invoice"))
    payment_id = _payment_of_invoice_payment(invoice_payment)
    if not invoice_id or not payment_id:
        return None
    _lock_invoice(invoice_id)
    found = Donation.objects.filter(invoice_id=invoice_id).values_list("pk", flat=True).first()
    if found is not None:
        _link_payment(donation_id=found, payment_id=payment_id)
    return found


def set_gift_status(
    *, subscription_id: str, status: MonthlyGiftStatus, ended: datetime | None = None
) -> bool:
    """Move a monthly gift forward (incomplete → active → ended; ended is final), whatever the
    order the news came in. Returns whether it changed."""
    gift = MonthlyGift.objects.select_for_update().filter(subscription_id=subscription_id).first()
    if gift is None:
        return False
    current = MonthlyGiftStatus(gift.status)
    if MONTHLY_STATUS_RANK[status] <= MONTHLY_STATUS_RANK[current]:
        return False
    gift.status = status
    if status == MonthlyGiftStatus.ENDED:
        gift.ended_at = ended or timezone.now()
    gift.save(update_fields=["status", "ended_at"])
    log.info("monthly gift status monthly_gift_id=%s status=%s", gift.pk, status)
    return True


def subscription_changed(*, subscription: dict[str, Any]) -> bool:
    """`customer.subscription.updated` / `.deleted`: the gift's status from Stripe's."""
    status = SUBSCRIPTION_STATUS.get(_text(subscription.get("status")))
    subscription_id = _text(subscription.get("id"))
    if status is None or not subscription_id:
        return False
    stamp = subscription.get("ended_at") or subscription.get("canceled_at")
    ended = datetime.fromtimestamp(stamp, tz=UTC) if isinstance(stamp, int) else None
    return set_gift_status(subscription_id=subscription_id, status=status, ended=ended)


def is_monthly_customer(obj: dict[str, Any]) -> bool:
    """Whether a payment belongs to one of our monthly gifts' customers: its months are
    counted through their invoices, so the payment's own events need no issue for staff."""
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return bool(customer) and MonthlyGift.objects.filter(customer_id=_text(customer)).exists()
