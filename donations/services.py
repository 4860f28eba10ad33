"""Writes of the donation flow: starting a donation (rules, limits, the card-testing defence,
the provider call with backoff), receipts and refunds. What every provider event writes (the
donation's state, the tallies, the live room's notice) is in donations.ledger."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from donations.models import (
    Donation,
    DonationStatus,
    Interval,
    MonthlyGift,
    ProviderProduct,
)
from donations.providers import get_provider
from donations.providers.base import (
    CreatedPayment,
    CreatedSubscription,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    ProviderRateLimited,
)
from events.fields import format_major
from events.models import CURRENCY_SYMBOLS, Event, EventStatus

log = logging.getLogger(__name__)

T = TypeVar("T")

# Pending donations hold their amount against the per-donor limit this long.
PENDING_HOLD = timedelta(minutes=30)


class DonationRefused(Exception):
    """A start-donation request we refuse; `message` is for the donor, `status` the HTTP code."""

    def __init__(self, message: str, *, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


@dataclass(frozen=True)
class DonorDetails:
    email: str
    first_name: str = ""
    last_name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    employer: str = ""
    occupation: str = ""


@dataclass(frozen=True)
class DonationRequest:
    """A start-donation request after parsing (forms.StartDonationForm): types and lengths are
    checked; the campaign's rules are not yet."""

    attempt_key: uuid.UUID
    gift_minor: int
    currency: str
    cover_fees: bool
    donor: DonorDetails
    attestation_ids: frozenset[int] = field(default_factory=frozenset)
    ticker_opt_in: bool = False
    anonymous: bool = False
    hide_amount: bool = False
    display_name: str = ""
    message: str = ""
    refcode: str = ""
    monthly: bool = False


@dataclass(frozen=True)
class StartedDonation:
    donation_id: int
    provider: str
    client_secret: str
    gift_minor: int
    fee_minor: int
    amount_minor: int
    currency: str
    interval: str = ""


def money(amount_minor: int, currency: str) -> str:
    return f"{CURRENCY_SYMBOLS.get(currency, '')}{format_major(amount_minor)}"


def fee_for(gift_minor: int) -> int:
    """The fee a donor covers so that the campaign receives the whole gift after the card fee
    (percent + fixed): the smallest gross with gross - fee(gross) >= gift."""
    bp = settings.DONATION_FEE_PERCENT_BP
    fixed = settings.DONATION_FEE_FIXED_MINOR
    if bp == 0 and fixed == 0:
        return 0
    gross = -(-(gift_minor + fixed) * 10_000 // (10_000 - bp))  # ceiling division
    return gross - gift_minor


# --- Starting a donation ----------------------------------------------------------------------


def _check_rules(*, event: Event, req: DonationRequest) -> None:
    campaign = event.campaign
    if event.status not in (EventStatus.LIVE, EventStatus.SCHEDULED):
        raise DonationRefused("This event is no longer taking donations.", status=409)
    if req.monthly and not campaign.monthly_enabled:
        raise DonationRefused("This campaign does not offer monthly giving.", field="monthly")
    if req.currency != campaign.currency:
        raise DonationRefused(
            f"Donations to this campaign are in {campaign.currency.upper()}.", field="currency"
        )
    if req.gift_minor < campaign.min_donation_minor:
        raise DonationRefused(
            f"The minimum donation is {money(campaign.min_donation_minor, campaign.currency)}.",
            field="amount_minor",
        )
    if campaign.max_donation_minor is not None and req.gift_minor > campaign.max_donation_minor:
        raise DonationRefused(
            f"The maximum donation is {money(campaign.max_donation_minor, campaign.currency)}.",
            field="amount_minor",
        )
    labels = {
        "name": ("first_name", "Your first and last name are required."),
        "address": ("address_line1", "Your postal address is required."),
        "employer": ("employer", "Your employer is required (enter “None” if you have none)."),
        "occupation": ("occupation", "Your occupation is required."),
    }
    donor = req.donor
    for name in campaign.required_donor_fields:
        if name == "email":
            continue  # always required: receipts and limits are by email
        field_name, message = labels[name]
        missing = not getattr(donor, field_name).strip()
        if name == "name":
            missing = missing or not donor.last_name.strip()
        if name == "address":
            missing = missing or not (
                donor.city.strip() and donor.postal_code.strip() and donor.country.strip()
            )
        if missing:
            raise DonationRefused(message, field=field_name)
    required = {a.pk: a.text for a in campaign.attestations.all()}
    if not set(required) <= req.attestation_ids:
        raise DonationRefused(
            "Please confirm each statement above the Donate button.", field="attestations"
        )


def _lock_donor(*, campaign_id: int, email: str) -> None:
    """Serialize starts of one donor on one campaign for the limit check (PostgreSQL advisory
    lock, released at commit; SQLite serializes writers anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"donor:{campaign_id}:{email}"]
            )


@transaction.atomic
def _create_pending(*, event: Event, req: DonationRequest, fee_minor: int) -> Donation:
    campaign = event.campaign
    email = req.donor.email
    amount = req.gift_minor + fee_minor
    _lock_donor(campaign_id=campaign.pk, email=email)
    if campaign.per_donor_limit_minor is not None:
        given = Donation.objects.filter(campaign=campaign, email=email).filter(
            Q(net_minor__gt=0)
            | Q(status=DonationStatus.PENDING, created_at__gte=timezone.now() - PENDING_HOLD)
        )
        running = given.aggregate(
            total=Sum("net_minor", filter=Q(net_minor__gt=0)),
            held=Sum("amount_minor", filter=Q(status=DonationStatus.PENDING)),
        )
        total = (running["total"] or 0) + (running["held"] or 0)
        room = campaign.per_donor_limit_minor - total
        if amount > room:
            if room <= 0:
                message = "You have reached this campaign's contribution limit. Thank you!"
            else:
                message = (
                    f"This would take you past this campaign's contribution limit: you can "
                    f"give at most {money(room, campaign.currency)} more (fees included)."
                )
            raise DonationRefused(message, field="amount_minor")
    attestation_texts = [a.text for a in campaign.attestations.all()]
    donor = req.donor
    return Donation.objects.create(
        event=event,
        campaign=campaign,
        attempt_key=req.attempt_key,
        provider="",
        gift_minor=req.gift_minor,
        fee_minor=fee_minor,
        amount_minor=amount,
        currency=campaign.currency,
        interval=Interval.MONTH if req.monthly else Interval.ONCE,
        email=email,
        first_name=donor.first_name,
        last_name=donor.last_name,
        address_line1=donor.address_line1,
        address_line2=donor.address_line2,
        city=donor.city,
        region=donor.region,
        postal_code=donor.postal_code,
        country=donor.country,
        employer=donor.employer,
        occupation=donor.occupation,
        attestations=attestation_texts,
        ticker_opt_in=req.ticker_opt_in,
        anonymous=req.anonymous,
        hide_amount=req.hide_amount,
        display_name=req.display_name,
        message=req.message,
        refcode=req.refcode,
    )


def with_backoff(call: Callable[[], T], *, donation_id: int) -> T:
    """Run a provider call; on a 429, retry it with full-jitter exponential backoff for at most
    DONATION_PROVIDER_RETRY_SECONDS. `call` must reuse its idempotency key on every try."""
    deadline = time.monotonic() + settings.DONATION_PROVIDER_RETRY_SECONDS
    delay = 0.05
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except ProviderRateLimited:
            pause = random.uniform(0, delay)  # noqa: S311 -- jitter, not security
            if time.monotonic() + pause > deadline:
                log.warning(
                    "provider rate limited, giving up donation_id=%s attempts=%s",
                    donation_id,
                    attempt,
                )
                raise
            time.sleep(pause)
            delay = min(delay * 2, 2.0)


def _metadata(*, donation: Donation, event: Event) -> dict[str, str]:
    return {
        "donation_id": str(donation.pk),
        "event_id": str(event.pk),
        "campaign_id": str(event.campaign_id),
    }


def create_payment_with_backoff(
    *, provider: PaymentProvider, donation: Donation, event: Event
) -> CreatedPayment:
    """Ask the provider for the payment, retrying a 429 under the same idempotency key."""
    return with_backoff(
        lambda: provider.create_payment(
            amount_minor=donation.amount_minor,
            currency=donation.currency,
            idempotency_key=f"pc-donation-{donation.attempt_key}",
            metadata=_metadata(donation=donation, event=event),
            description=f"Donation to {event.campaign.name}",
        ),
        donation_id=donation.pk,
    )


def ensure_product(*, provider: PaymentProvider, event: Event, donation_id: int) -> str:
    """The campaign's product for monthly gifts at this provider: created once (an idempotency
    key per campaign makes concurrent first creators get the same one), then read back."""
    campaign = event.campaign
    found = (
        ProviderProduct.objects.filter(campaign=campaign, provider=provider.name)
        .values_list("product_id", flat=True)
        .first()
    )
    if found:
        return found
    product_id = with_backoff(
        lambda: provider.create_product(
            name=f"Monthly gift to {campaign.name}",
            idempotency_key=f"pc-product-{campaign.pk}-{campaign.slug}",
            metadata={"campaign_id": str(campaign.pk)},
        ),
        donation_id=donation_id,
    )
    try:
        with transaction.atomic():
            ProviderProduct.objects.create(
                campaign=campaign, provider=provider.name, product_id=product_id
            )
    except IntegrityError:  # a concurrent first monthly donor stored it first
        return ProviderProduct.objects.get(campaign=campaign, provider=provider.name).product_id
    return product_id


def create_subscription_with_backoff(
    *, provider: PaymentProvider, donation: Donation, event: Event
) -> CreatedSubscription:
    """The monthly gift at the provider (customer + subscription), its first invoice's payment
    waiting for the donor; then the MonthlyGift row (found again on a retry)."""
    product_id = ensure_product(provider=provider, event=event, donation_id=donation.pk)
    name = f"{donation.first_name} {donation.last_name}".strip()
    created = with_backoff(
        lambda: provider.create_subscription(
            product_id=product_id,
            amount_minor=donation.amount_minor,
            currency=donation.currency,
            email=donation.email,
            name=name,
            idempotency_key=f"pc-donation-{donation.attempt_key}",
            metadata=_metadata(donation=donation, event=event),
            description=f"Monthly donation to {event.campaign.name}",
        ),
        donation_id=donation.pk,
    )
    gift, _ = MonthlyGift.objects.get_or_create(
        subscription_id=created.subscription_id,
        defaults={
            "campaign_id": event.campaign_id,
            "event": event,
            "first_donation": donation,
            "provider": provider.name,
            "customer_id": created.customer_id,
            "amount_minor": donation.amount_minor,
            "currency": donation.currency,
        },
    )
    Donation.objects.filter(pk=donation.pk, monthly_gift=None).update(monthly_gift=gift)
    Donation.objects.filter(pk=donation.pk, invoice_id=None).update(invoice_id=created.invoice_id)
    return created


def start_donation(*, event: Event, req: DonationRequest) -> StartedDonation:
    """Validate the request against the campaign's rules, create (or find again, by the
    attempt key) the pending donation, and create its payment with the provider.

    Raises DonationRefused (4xx for the donor, 503 when the provider is unavailable). The same
    attempt key never creates a second donation or a second payment: the provider call reuses
    the idempotency key `pc-donation-<attempt key>`."""
    provider = get_provider()
    if provider is None:
        raise DonationRefused("Donations are not available right now.", status=503)
    fee_minor = fee_for(req.gift_minor) if req.cover_fees else 0
    existing = Donation.objects.filter(attempt_key=req.attempt_key).first()
    if existing is None:
        _check_rules(event=event, req=req)
        try:
            donation = _create_pending(event=event, req=req, fee_minor=fee_minor)
        except IntegrityError:  # the same attempt, started concurrently (a double click)
            donation = Donation.objects.get(attempt_key=req.attempt_key)
    else:
        donation = existing
    if (
        donation.event_id != event.pk
        or donation.gift_minor != req.gift_minor
        or donation.fee_minor != fee_minor
        or donation.email != req.donor.email
        or donation.interval != (Interval.MONTH if req.monthly else Interval.ONCE)
    ):
        raise DonationRefused(
            "This donation was already started with other details. Reload the page.",
            status=409,
        )
    if donation.status != DonationStatus.PENDING:
        raise DonationRefused("This donation is already complete. Thank you!", status=409)
    created: CreatedPayment | CreatedSubscription
    try:
        if donation.interval == Interval.MONTH:
            created = create_subscription_with_backoff(
                provider=provider, donation=donation, event=event
            )
        else:
            created = create_payment_with_backoff(provider=provider, donation=donation, event=event)
    except ProviderRateLimited:
        raise DonationRefused(
            "Our payment processor is very busy right now. Please try again in a minute.",
            status=503,
        ) from None
    except PaymentDeclined as exc:
        raise DonationRefused(str(exc), status=402) from None
    except ProviderError:
        log.exception("payment create failed donation_id=%s", donation.pk)
        raise DonationRefused(
            "We could not reach our payment processor. Please try again in a minute.",
            status=503,
        ) from None
    Donation.objects.filter(pk=donation.pk, payment_id=None).update(
        payment_id=created.payment_id, provider=provider.name
    )
    log.info("donation started donation_id=%s event_id=%s", donation.pk, event.pk)
    return StartedDonation(
        donation_id=donation.pk,
        provider=provider.name,
        client_secret=created.client_secret,
        gift_minor=donation.gift_minor,
        fee_minor=donation.fee_minor,
        amount_minor=donation.amount_minor,
        currency=donation.currency,
        interval=donation.interval,
    )


def send_receipt(*, donation_id: int) -> bool:
    """Email the donor their receipt, at most once per donation: the row is claimed by a
    conditional update before sending (a crash after the claim loses the email rather than
    doubling it; a failed send releases the claim for a retry). Returns whether it sent."""
    now = timezone.now()
    claimed = Donation.objects.filter(pk=donation_id, receipt_sent_at=None, net_minor__gt=0).update(
        receipt_sent_at=now
    )
    if not claimed:
        return False
    donation = Donation.objects.select_related("campaign", "event").get(pk=donation_id)
    body = (
        f"Thank you for your donation of {money(donation.amount_minor, donation.currency)} "
        f"to {donation.campaign.legal_name}, during “{donation.event.title}”.\n\n"
        f"Donation reference: {donation.pk}\nDate: {donation.succeeded_at or now:%Y-%m-%d} UTC\n"
    )
    if donation.fee_minor:
        body += f"Including {money(donation.fee_minor, donation.currency)} to cover fees.\n"
    try:
        send_mail(
            subject=f"Your receipt from {donation.campaign.name}",
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[donation.email],
        )
    except Exception:
        Donation.objects.filter(pk=donation_id, receipt_sent_at=now).update(receipt_sent_at=None)
        raise
    log.info("receipt sent donation_id=%s", donation_id)
    return True


# Receipts older than this are never sent late (e.g. after an outage of days).
RECEIPT_WINDOW = timedelta(days=3)


def send_pending_receipts(*, limit: int = 500) -> int:
    """Send the receipts that are due (counted donations without one), oldest first; safe to
    run from several workers at once (send_receipt claims each row). Returns how many sent."""
    due = list(
        Donation.objects.filter(
            receipt_sent_at=None,
            net_minor__gt=0,
            succeeded_at__gte=timezone.now() - RECEIPT_WINDOW,
        )
        .order_by("succeeded_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(send_receipt(donation_id=pk) for pk in due)


class RefundRefused(Exception):
    """A refund staff asked for that we cannot do; the message says why."""


def refund_donation(*, donation_id: int, user_id: int | None) -> str:
    """Ask the provider to refund what is left of a succeeded donation. The ledger changes
    when the provider's `charge.refunded` event is applied (for the simulated provider, at
    once, through the same path). Returns the provider's refund id; raises RefundRefused."""
    donation = Donation.objects.get(pk=donation_id)
    remaining = donation.amount_minor - donation.refunded_minor
    if not donation.succeeded_seen or not donation.payment_id or remaining <= 0:
        raise RefundRefused(f"Donation {donation.pk} has nothing to refund.")
    provider: PaymentProvider | None
    if donation.provider == "simulated":
        from donations.providers.simulated import SimulatedProvider

        provider = SimulatedProvider()
    else:
        provider = get_provider()
        if provider is None or provider.name != donation.provider:
            raise RefundRefused("The payment provider of this donation is not configured.")
    try:
        result = provider.refund(
            payment_id=donation.payment_id,
            amount_minor=remaining,
            # Same donation, same already-refunded amount: the same refund, never two.
            idempotency_key=f"pc-refund-{donation.pk}-{donation.refunded_minor}",
        )
    except ProviderError as exc:
        raise RefundRefused(f"The provider refused the refund: {exc}") from exc
    log.info(
        "refund requested donation_id=%s refund_id=%s user_id=%s",
        donation.pk,
        result.refund_id,
        user_id,
    )
    if provider.simulated:
        from donations.webhooks import record_simulated_refund

        record_simulated_refund(
            donation=donation, refunded_minor=donation.amount_minor, refund_id=result.refund_id
        )
    return result.refund_id
