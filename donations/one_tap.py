"""A returning donor's one-tap gift: "Give $25 with Visa •• 4242". It goes through
services.start_donation like any gift (the campaign's rules and limits, the attempt key's
idempotency), with the saved card's details and its payment method. The donor then confirms
the payment on the page, so a bank that asks for 3-D Secure gets it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from donations import saved_donors
from donations.models import SavedDonor
from donations.providers.base import CardUse
from donations.rules import DonationRefused, DonationRequest, check_donor_fields
from donations.services import StartedDonation, start_donation
from events.models import Event


@dataclass(frozen=True)
class OneTap:
    """What the one-tap request may choose (forms.OneTapForm): the rest is the saved card's."""

    attempt_key: uuid.UUID
    gift_minor: int
    cover_fees: bool
    monthly: bool
    attestation_ids: frozenset[int]
    refcode: str
    ask_tag: str = ""


def start_one_tap(*, event: Event, saved: SavedDonor, tap: OneTap) -> StartedDonation:
    """Start the gift with `saved` (a card donations.saved_donors.usable gave): its donor's
    details, its customer and payment method. Raises DonationRefused as start_donation does,
    and 400 (field "full_form") when the campaign requires a detail the saved ones lack: the
    donor gives with the form instead. A refusal creates nothing."""
    campaign = event.campaign
    donor = saved.donor
    try:
        check_donor_fields(campaign=campaign, donor=donor)
    except DonationRefused as exc:
        raise DonationRefused(
            f"{exc.message} Your saved details do not include it: please give with the form.",
            field="full_form",
        ) from None
    req = DonationRequest(
        attempt_key=tap.attempt_key,
        gift_minor=tap.gift_minor,
        currency=campaign.currency,
        cover_fees=tap.cover_fees,
        donor=donor,
        attestation_ids=tap.attestation_ids,
        refcode=tap.refcode,
        ask_tag=tap.ask_tag,
        monthly=tap.monthly,
        card=CardUse(customer_id=saved.customer_id, payment_method_id=saved.payment_method_id),
    )
    started = start_donation(event=event, req=req)
    saved_donors.mark_used(saved_donor_id=saved.pk)
    return started
