"""The money rules on a starting donation, run by donations.services in the transaction that
creates the pending row: which election it is for, who the donor is, and their limit. Returns
what the row stores; raises DonationRefused with the answer for the donor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from donations.compliance.aggregates import donor_totals, lock_donor
from donations.compliance.designation import Designation, first_election
from donations.compliance.identity import donor_key
from donations.compliance.limits import check_election_limit
from donations.rules import DonationRequest, check_donor_limit
from events.elections import gift_date
from events.models import Campaign


@dataclass(frozen=True)
class GiftFacts:
    """What the money rules decided about a starting gift, for its row."""

    donor_key: str = ""
    designation: Designation = field(default_factory=Designation)

    def as_fields(self) -> dict[str, Any]:
        return {"donor_key": self.donor_key, **self.designation.as_fields()}


def check_gift(*, campaign: Campaign, req: DonationRequest, amount_minor: int) -> GiftFacts:
    """Designate the gift and check the donor's limit: per election, by identity, for a
    campaign with elections; the per-email lifetime limit for the others. Must run in the
    transaction that then creates the pending donation (the donor's locks are held until it
    commits)."""
    key = donor_key(req.donor)
    email = req.donor.email
    on = gift_date()
    election = first_election(campaign=campaign, choice=req.designation, on=on)
    if election is None:  # no elections: the campaign's per-email limit, as it always was
        check_donor_limit(campaign=campaign, email=email, amount_minor=amount_minor)
        return GiftFacts(donor_key=key)
    lock_donor(campaign_id=campaign.pk, donor_key=key, email=email)
    totals = donor_totals(campaign_id=campaign.pk, donor_key=key, email=email)
    designation = check_election_limit(
        campaign=campaign,
        election=election,
        amount_minor=amount_minor,
        totals=totals,
        req=req,
        donor_key=key,
        on=on,
    )
    return GiftFacts(donor_key=key, designation=designation)
