"""Writes of the donation flow: starting a donation (the rules, then the provider's payment or
subscription) and confirming a simulated one. What every provider event writes (the
donation's state, the tallies, the live room's notice) is in donations.ledger through
donations.webhooks; receipts and refunds are donations.receipts and donations.refunds."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from donations import asks, saved_donors
from donations.amounts import Amounts
from donations.compliance import checkout
from donations.models import (
    Donation,
    DonationStatus,
    Interval,
    MonthlyGift,
    ProviderEvent,
    SavedDonor,
)
from donations.payments import create_payment_with_backoff
from donations.providers import get_provider, simulated
from donations.providers.base import (
    CreatedPayment,
    CreatedSubscription,
    PaymentDeclined,
    ProviderError,
    ProviderRateLimited,
)
from donations.rules import DonationRefused, DonationRequest, check_rules
from donations.subscriptions import create_subscription_with_backoff
from donations.webhooks.apply import receive_event
from events.models import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartedDonation:
    donation_id: int
    provider: str
    client_secret: str
    amounts: Amounts
    # The token of the saved card this gift makes, for the browser's cookie ("" for none).
    saved_token: str = ""


def fee_for(gift_minor: int) -> int:
    """The fee a donor covers so that the campaign receives the whole gift after the card fee
    (percent + fixed): the smallest gross with gross - fee(gross) >= gift."""
    bp = settings.DONATION_FEE_PERCENT_BP
    fixed = settings.DONATION_FEE_FIXED_MINOR
    if bp == 0 and fixed == 0:
        return 0
    gross = -(-(gift_minor + fixed) * 10_000 // (10_000 - bp))  # ceiling division
    return gross - gift_minor


@transaction.atomic
def _create_pending(*, event: Event, req: DonationRequest, fee_minor: int) -> Donation:
    campaign = event.campaign
    amounts = Amounts(
        gift_minor=req.gift_minor,
        fee_minor=fee_minor,
        currency=campaign.currency,
        interval=req.interval,
    )
    ask_tag = asks.check_ask_tag(event_id=event.pk, tag=req.ask_tag)
    facts = checkout.check_gift(campaign=campaign, req=req, amount_minor=amounts.amount_minor)
    return Donation.objects.create(
        event=event,
        campaign=campaign,
        attempt_key=req.attempt_key,
        provider="",
        **amounts.as_fields(),
        **req.donor.as_fields(),
        attestations=[a.text for a in campaign.attestations.all()],
        ticker_opt_in=req.ticker_opt_in,
        anonymous=req.anonymous,
        hide_amount=req.hide_amount,
        display_name=req.display_name,
        message=req.message,
        refcode=req.refcode,
        ask_tag=ask_tag,
        **facts.as_fields(),
    )


def start_donation(*, event: Event, req: DonationRequest) -> StartedDonation:
    """Validate the request against the campaign's rules, create (or find again, by the
    attempt key) the pending donation, and create its payment with the provider.

    With `req.save_card`, the donor's card is saved with the payment for one-tap gifts later
    (donations.saved_donors: usable once the provider's success event names it); `req.card`
    pays with a saved card, or names the customer a returning donor's new card is kept under.

    Raises DonationRefused (4xx for the donor, 503 when the provider is unavailable). The same
    attempt key never creates a second donation or a second payment: the provider call reuses
    the idempotency key `pc-donation-<attempt key>`."""
    provider = get_provider()
    if provider is None:
        raise DonationRefused("Donations are not available right now.", status=503)
    fee_minor = fee_for(req.gift_minor) if req.cover_fees else 0
    existing = Donation.objects.filter(attempt_key=req.attempt_key).first()
    if existing is None:
        check_rules(event=event, req=req)
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
        or donation.interval != req.interval
        or (
            existing is not None
            and SavedDonor.objects.filter(donation=donation).exists() != req.save_card
        )
    ):
        raise DonationRefused(
            "This donation was already started with other details. Reload the page.",
            status=409,
        )
    if donation.status != DonationStatus.PENDING:
        raise DonationRefused("This donation is already complete. Thank you!", status=409)
    created: CreatedPayment | CreatedSubscription
    saving: saved_donors.Saving | None = None
    try:
        card = req.card
        if req.save_card:
            saving = saved_donors.start_saving(
                provider=provider, donation=donation, customer_id=card.customer_id
            )
            card = saving.card
        if donation.interval == Interval.MONTH:
            created = create_subscription_with_backoff(
                provider=provider, donation=donation, event=event, card=card
            )
            if saving is not None:
                saved_donors.note_customer(donation_id=donation.pk, customer_id=created.customer_id)
        else:
            created = create_payment_with_backoff(
                provider=provider, donation=donation, event=event, card=card
            )
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
        amounts=donation.amounts,
        saved_token=saving.token if saving is not None else "",
    )


# The monthly gift the thank-you offers after a one-time gift: one per one-time gift (its
# attempt key is derived from the gift's, so a double tap or a retry finds the same one).
_UPSELL_NAMESPACE = uuid.UUID("5b0f6a52-6c1e-4c57-9a55-1d1f3c0e7a11")


def start_monthly_upsell(*, reference: str, attempt_key: uuid.UUID) -> StartedDonation:
    """Start a monthly gift of the same amount, with the same donor details, ticker choices
    and refcode, as the one-time gift `reference` (the donor proves it is theirs with the
    gift's attempt key, which only their browser knows). Goes through start_donation: the same
    rules, limits and provider path as any monthly gift.

    Raises DonationRefused: 404 for an unknown gift or a wrong key, 409 for a gift that is
    monthly already or not paid, 400 when the campaign offers no monthly giving. A refusal
    creates nothing."""
    original = (
        Donation.objects.select_related("event", "campaign")
        .filter(reference=reference, attempt_key=attempt_key)
        .first()
    )
    if original is None:
        raise DonationRefused("This gift was not found. Reload the page and try again.", status=404)
    if original.interval != Interval.ONCE:
        raise DonationRefused("This gift is monthly already. Thank you!", status=409)
    if not original.campaign.monthly_enabled:
        raise DonationRefused("This campaign does not offer monthly giving.", field="monthly")
    if not original.counted:
        raise DonationRefused(
            "This gift has not gone through, so it cannot become monthly.", status=409
        )
    confirmed = set(original.attestations)
    req = DonationRequest(
        attempt_key=uuid.uuid5(_UPSELL_NAMESPACE, str(original.attempt_key)),
        gift_minor=original.gift_minor,
        currency=original.currency,
        cover_fees=original.fee_minor > 0,
        donor=original.donor,
        attestation_ids=frozenset(
            a.pk for a in original.campaign.attestations.all() if a.text in confirmed
        ),
        ticker_opt_in=original.ticker_opt_in,
        anonymous=original.anonymous,
        hide_amount=original.hide_amount,
        display_name=original.display_name,
        message=original.message,
        refcode=original.refcode,
        monthly=True,
    )
    return start_donation(event=original.event, req=req)


# --- The simulated provider's payments --------------------------------------------------------


def confirm_simulated_payment(*, donation: Donation, succeed: bool) -> ProviderEvent:
    """The simulated provider's confirmation (or decline) of a donation: the events Stripe
    would send (donations.providers.simulated), received and applied like Stripe's. Returns
    the payment event's row."""
    first, *rest = simulated.confirmation_events(donation=donation, succeed=succeed)
    row = receive_event(event=first, source="simulated")
    for event in rest:
        receive_event(event=event, source="simulated")
    return row


def renew_simulated_gift(*, monthly_gift_id: int, month: int) -> Donation | None:
    """Month `month` (2, 3, …) of a simulated monthly gift, paid (once per month, however
    often this is called): that month's donation. An ended gift charges nothing: None."""
    gift = MonthlyGift.objects.select_related("first_donation").get(pk=monthly_gift_id)
    renewal = simulated.renewal(gift=gift, month=month)
    if renewal is None:
        return None
    receive_event(event=renewal.event, source="simulated")
    return Donation.objects.filter(invoice_id=renewal.invoice_id).first()
