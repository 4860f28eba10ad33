"""Monthly gifts on the ledger: the handlers of invoice and subscription events, which donation
a paid invoice is, which payment paid it, and whether the gift still runs. They run inside the
transaction that applies a provider event (donations.webhooks.apply); the money state itself
moves through donations.ledger like any donation's.

Each paid invoice is one Donation row, unique by its invoice id: the first invoice is the
donation the donor started; a later month's invoice creates a row of its own (copying the
donor's details from the first), found again by that id on a second delivery.
"""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, connection, transaction

from donations import ledger
from donations.amounts import Amounts
from donations.compliance.designation import installment_designation
from donations.compliance.itemization import flag_if_itemizable
from donations.compliance.monthly import watch_next_month
from donations.models import (
    Donation,
    Interval,
    IssueKind,
    MonthlyGift,
    MonthlyGiftStatus,
    ProviderEvent,
)
from donations.monthly_state import apply_subscription_state, set_gift_status
from donations.providers.stripe_events import (
    InvoicePaid,
    InvoicePaymentPaid,
    PaymentIntentEvent,
    SubscriptionChange,
)
from donations.webhooks import store
from donations.webhooks.issues import check_amount, record_issue
from events.elections import gift_date

log = logging.getLogger(__name__)


# --- Handlers -----------------------------------------------------------------------------------


def on_invoice_paid(row: ProviderEvent, invoice: InvoicePaid) -> None:
    """One paid invoice is one succeeded donation: the first installment (the donation the
    donor started) or a later month's row, created once."""
    donation_id = invoice_donation(invoice=invoice)
    if donation_id is None:
        record_issue(
            row,
            IssueKind.UNKNOWN_DONATION,
            f"invoice.paid for invoice {invoice.invoice_id or '(none)'} matches no monthly gift.",
            None,
            invoice.campaign_id,
        )
        return
    store.link_donation(provider_event_id=row.pk, donation_id=donation_id)
    locked = ledger.lock_donor_donations(donation_id=donation_id)
    if locked is None:
        return
    donation, others = locked
    before = ledger.MoneyState(net_minor=donation.net_minor)
    if not check_amount(row, donation, amount=invoice.amount_paid, currency=invoice.currency):
        return
    donation.succeeded_seen = True
    ledger.commit_donation_state(donation=donation, before=before, others=others)
    if donation.counted:
        # A month paid (its payment's own event may have counted it first): its details, if
        # it made the donor itemizable without them; and stop the gift if its next month would
        # pass the election's limit (decided once per gift).
        flag_if_itemizable(donation=donation)
        watch_next_month(installment=donation)


def on_invoice_payment_paid(row: ProviderEvent, paid: InvoicePaymentPaid) -> None:
    """Link the payment to its invoice's donation if that row exists; if not, the stored event
    is found again when the invoice's own event comes (store.payment_seen_for_invoice)."""
    if not paid.invoice_id or not paid.payment_id:
        return
    _lock_invoice(paid.invoice_id)
    found = Donation.objects.filter(invoice_id=paid.invoice_id).values_list("pk", flat=True).first()
    if found is not None:
        _link_payment(donation_id=found, payment_id=paid.payment_id)
        store.link_donation(provider_event_id=row.pk, donation_id=found)


def on_subscription_changed(row: ProviderEvent, change: SubscriptionChange) -> None:
    """The gift's status, pause and amount from the subscription, where the news is newer
    than what the gift holds (donations.monthly_state orders it)."""
    if not change.subscription_id:
        return
    apply_subscription_state(change=change)


# --- The ledger of monthly gifts ----------------------------------------------------------------


def _lock_invoice(invoice_id: str) -> None:
    """Serialize everything about one invoice (its paid event and its payment's event) until
    the transaction ends, so whichever comes second sees what the first wrote."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"invoice:{invoice_id}"])


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


def record_gift(
    *, first: Donation, subscription_id: str, customer_id: str, provider: str
) -> MonthlyGift:
    """The monthly gift that `first` started, created once (found again by its subscription id):
    it charges each month what `first` charged."""
    gift, _ = MonthlyGift.objects.get_or_create(
        subscription_id=subscription_id,
        defaults={
            "campaign_id": first.campaign_id,
            "event_id": first.event_id,
            "first_donation": first,
            "provider": provider,
            "customer_id": customer_id,
            "amount_minor": first.amount_minor,
            "currency": first.currency,
        },
    )
    return gift


def _adopt_first(invoice: InvoicePaid) -> int | None:
    """The first invoice of a gift whose start we could not finish writing (the provider
    created it, then our write failed): the donation id in the subscription's metadata."""
    if not invoice.first:
        return None
    ref = invoice.donation_ref or ""
    if not (ref.isascii() and ref.isdigit()):
        return None
    donation = Donation.objects.filter(
        pk=int(ref), interval=Interval.MONTH, invoice_id=None
    ).first()
    if donation is None or not invoice.subscription_id:
        return None
    gift = record_gift(
        first=donation,
        subscription_id=invoice.subscription_id,
        customer_id=invoice.customer,
        provider=donation.provider or "stripe",
    )
    Donation.objects.filter(pk=donation.pk).update(invoice_id=invoice.invoice_id, monthly_gift=gift)
    return donation.pk


def _installment_amounts(gift: MonthlyGift, invoice: InvoicePaid) -> Amounts:
    """What a later month charged: the invoice's amount (an invoice made before the donor
    changed the amount charges the old one), else the gift's. The first gift's split between
    gift and covered fees while the amount is the first's; a changed amount is all gift."""
    first = gift.first_donation
    paid = invoice.amount_paid
    if not (paid and paid > 0 and str(invoice.currency).lower() == gift.currency):
        paid = gift.amount_minor
    if paid == first.amount_minor:
        return first.amounts
    return Amounts(gift_minor=paid, fee_minor=0, currency=gift.currency, interval=Interval.MONTH)


def _new_installment(gift: MonthlyGift, invoice: InvoicePaid) -> int:
    """A later month: a new donation row with that month's amount and the first one's donor
    details. Its attempt key is derived from the invoice id, so it is as unique as the
    invoice."""
    first = gift.first_donation
    invoice_id = invoice.invoice_id
    amounts = _installment_amounts(gift, invoice)
    # Designated to the next election on the day it is paid.
    designation = installment_designation(
        campaign_id=gift.campaign_id, amount_minor=amounts.amount_minor, on=gift_date()
    )
    installment = Donation.objects.create(
        event_id=gift.event_id,
        campaign_id=gift.campaign_id,
        attempt_key=uuid.uuid5(uuid.NAMESPACE_URL, f"pledgecast:invoice:{invoice_id}"),
        provider=gift.provider,
        **amounts.as_fields(),
        monthly_gift=gift,
        invoice_id=invoice_id,
        **first.donor.as_fields(),
        donor_key=first.donor_key,
        us_passport_number=first.us_passport_number,
        attestations=first.attestations,
        # The ticker is the live moment of the first gift; later months count, quietly.
        ticker_opt_in=False,
        anonymous=first.anonymous,
        hide_amount=first.hide_amount,
        display_name=first.display_name,
        refcode=first.refcode,
        **designation.as_fields(),
    )
    log.info("monthly installment donation_id=%s monthly_gift_id=%s", installment.pk, gift.pk)
    return installment.pk


def invoice_donation(*, invoice: InvoicePaid) -> int | None:
    """The donation a paid invoice is (creating a later month's row once), with the payment
    that paid it linked when known; None when the invoice is none of our monthly gifts.
    Holds the invoice's advisory lock until the caller's transaction ends."""
    if not invoice.invoice_id:
        return None
    _lock_invoice(invoice.invoice_id)
    found = (
        Donation.objects.filter(invoice_id=invoice.invoice_id).values_list("pk", flat=True).first()
    )
    if found is None:
        found = _adopt_first(invoice)
    if found is None and invoice.subscription_id:
        gift = (
            MonthlyGift.objects.select_related("first_donation")
            .filter(subscription_id=invoice.subscription_id)
            .first()
        )
        if gift is not None:
            found = _new_installment(gift, invoice)
    if found is None:
        return None
    _link_payment(
        donation_id=found,
        payment_id=invoice.payment_id
        or store.payment_seen_for_invoice(invoice_id=invoice.invoice_id),
    )
    if invoice.subscription_id:
        set_gift_status(subscription_id=invoice.subscription_id, status=MonthlyGiftStatus.ACTIVE)
    return found


def is_monthly_customer(payment: PaymentIntentEvent) -> bool:
    """Whether a payment belongs to one of our monthly gifts' customers: its months are
    counted through their invoices, so the payment's own events need no issue for staff."""
    return (
        bool(payment.customer) and MonthlyGift.objects.filter(customer_id=payment.customer).exists()
    )
