"""The rules a donation must meet before it starts: the request as the donate panel sent it,
the campaign's rules on it (open event, currency, bounds, required donor fields,
attestations) and the per-donor contribution limit. A refusal is DonationRefused, with a
message for the donor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, Sum
from django.utils import timezone

from donations.donors import DonorDetails
from donations.models import Donation, DonationStatus, Interval
from donations.providers.base import NO_CARD, CardUse
from events.models import Campaign, Event, EventStatus
from events.money import format_money

# Pending donations hold their amount against the per-donor limit this long.
PENDING_HOLD = timedelta(minutes=30)


class DonationRefused(Exception):
    """A start-donation request we refuse; `message` is for the donor, `status` the HTTP code,
    `field` the form field it is about ("" for none), `extra` more keys of the JSON answer
    (the room left under a limit, the fields now required: donations.compliance)."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        field: str = "",
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
        self.retry_after = retry_after  # seconds, for a 429
        self.extra = extra or {}


@dataclass(frozen=True)
class DesignationChoice:
    """What the donor asked about elections (the request's `designation`): an election of
    their choice, and/or the later election the excess over the limit goes to, with the
    signed consent token the refusal handed them (donations.compliance.designation)."""

    election_id: int | None = None
    split_to: int | None = None
    consent: str = ""


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
    # Keep the card for one-tap gifts later (donations.saved_donors).
    save_card: bool = False
    # A one-tap gift's saved card, or the customer a returning donor's new card is saved under.
    card: CardUse = NO_CARD
    designation: DesignationChoice = field(default_factory=DesignationChoice)
    # Sent by the wallet (Express Checkout) path, whose sheet has no employer or occupation.
    express: bool = False
    # A US citizen abroad's passport number (a campaign that asks for it of non-US addresses).
    us_passport_number: str = ""
    # The tag of the pinned ask the donor answered, as sent (checked by donations.asks).
    ask_tag: str = ""

    @property
    def interval(self) -> Interval:
        return Interval.MONTH if self.monthly else Interval.ONCE


# Campaign.required_donor_fields → (the form field that holds it, what to tell the donor).
_REQUIRED = {
    "name": ("first_name", "Your first and last name are required."),
    "address": ("address_line1", "Your postal address is required."),
    "employer": ("employer", "Your employer is required (enter “None” if you have none)."),
    "occupation": ("occupation", "Your occupation is required."),
}


def missing_field_messages() -> dict[str, str]:
    """What the donor is told when a required donor field is empty, by form field: the donate
    panel says it next to the field before the server would (the same words)."""
    groups = {
        "name": ("first_name", "last_name"),
        "address": ("address_line1", "city", "postal_code", "country"),
        "employer": ("employer",),
        "occupation": ("occupation",),
    }
    return {field: _REQUIRED[name][1] for name, fields in groups.items() for field in fields}


def _closed_reason(event: Event) -> str:
    if event.status == EventStatus.CANCELLED:
        return "This event was cancelled: it takes no donations."
    if event.status == EventStatus.DRAFT:
        return "This event does not take donations yet."
    return "Giving for this event has closed. Thank you for your support."


def check_rules(*, event: Event, req: DonationRequest) -> None:
    """The campaign's rules on the request. Raises DonationRefused (409 once the event no
    longer takes donations, else 400 naming the field)."""
    campaign = event.campaign
    if not event.giving_open(timezone.now()):
        raise DonationRefused(_closed_reason(event), status=409)
    if req.monthly and not campaign.monthly_enabled:
        raise DonationRefused("This campaign does not offer monthly giving.", field="monthly")
    if req.currency != campaign.currency:
        raise DonationRefused(
            f"Donations to this campaign are in {campaign.currency.upper()}.", field="currency"
        )
    if req.gift_minor < campaign.min_donation_minor:
        raise DonationRefused(
            "The minimum donation is "
            f"{format_money(campaign.min_donation_minor, campaign.currency)}.",
            field="amount_minor",
        )
    if campaign.max_donation_minor is not None and req.gift_minor > campaign.max_donation_minor:
        raise DonationRefused(
            "The maximum donation is "
            f"{format_money(campaign.max_donation_minor, campaign.currency)}.",
            field="amount_minor",
        )
    check_donor_fields(campaign=campaign, donor=req.donor)
    required = {a.pk: a.text for a in campaign.attestations.all()}
    if not set(required) <= req.attestation_ids:
        raise DonationRefused("Please tick each statement to confirm it.", field="attestations")


def check_donor_fields(*, campaign: Campaign, donor: DonorDetails) -> None:
    """The donor fields the campaign requires are there; raises DonationRefused (400) naming
    the first missing one."""
    for name in campaign.required_donor_fields:
        if name == "email":
            continue  # always required: receipts and limits are by email
        field_name, message = _REQUIRED[name]
        missing = not getattr(donor, field_name).strip()
        if name == "name":
            missing = missing or not donor.last_name.strip()
        if name == "address":
            missing = missing or not (
                donor.city.strip() and donor.postal_code.strip() and donor.country.strip()
            )
        if missing:
            raise DonationRefused(message, field=field_name)


def check_donor_limit(*, campaign: Campaign, email: str, amount_minor: int) -> None:
    """The donor's running total on the campaign (counted gifts, plus pending ones for
    PENDING_HOLD) leaves room for `amount_minor`; raises DonationRefused otherwise.

    Must run in the transaction that then creates the pending donation: it takes the donor's
    advisory lock (PostgreSQL, released at commit; SQLite serializes writers anyway), so two
    concurrent starts of one donor cannot both pass on the same room."""
    _lock_donor(campaign_id=campaign.pk, email=email)
    if campaign.per_donor_limit_minor is None:
        return
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
    if amount_minor > room:
        if room <= 0:
            message = "You have reached this campaign's contribution limit. Thank you!"
        else:
            message = (
                f"This would take you past this campaign's contribution limit: you can "
                f"give at most {format_money(room, campaign.currency)} more (fees included)."
            )
        raise DonationRefused(message, field="amount_minor")


def _lock_donor(*, campaign_id: int, email: str) -> None:
    """Serialize starts of one donor on one campaign (PostgreSQL advisory lock, released at
    commit)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"donor:{campaign_id}:{email}"]
            )
