"""The money rules on a starting donation, run by donations.services in the transaction that
creates the pending row: prohibited sources, which election it is for, who the donor is, their
limit, and the details an itemized gift needs. Returns what the row stores; raises
DonationRefused with the answer for the donor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from donations.compliance.aggregates import DonorTotals, donor_totals, lock_donor
from donations.compliance.designation import Designation, first_election
from donations.compliance.identity import donor_key
from donations.compliance.itemization import check_itemization, period_total
from donations.compliance.limits import check_election_limit, check_year_limit
from donations.compliance.sources import check_sources
from donations.rules import DonationRequest, check_donor_limit
from events.elections import gift_date
from events.models import Campaign


@dataclass(frozen=True)
class GiftFacts:
    """What the money rules decided about a starting gift, for its row."""

    donor_key: str = ""
    designation: Designation = field(default_factory=Designation)
    info_followup_due: bool = False
    us_passport_number: str = ""

    def as_fields(self) -> dict[str, Any]:
        return {
            "donor_key": self.donor_key,
            "info_followup_due": self.info_followup_due,
            "us_passport_number": self.us_passport_number,
            **self.designation.as_fields(),
        }


def check_gift(*, campaign: Campaign, req: DonationRequest, amount_minor: int) -> GiftFacts:
    """Designate the gift, check the donor's limits (per election, by identity, for a campaign
    with elections; the per-email lifetime limit for the others; per calendar year, by
    identity, where the campaign has one) and the details an itemized gift needs. Must run in
    the transaction that then creates the pending donation (the donor's locks are held until
    it commits)."""
    passport = check_sources(campaign=campaign, req=req, amount_minor=amount_minor)
    key = donor_key(req.donor)
    email = req.donor.email
    on = gift_date()
    election = first_election(campaign=campaign, choice=req.designation, on=on)
    totals: DonorTotals | None = None
    if election is None:  # no elections: the campaign's per-email limit, as it always was
        check_donor_limit(campaign=campaign, email=email, amount_minor=amount_minor)
        designation = Designation()
    else:
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
    if campaign.year_limit is not None:
        if totals is None:
            lock_donor(campaign_id=campaign.pk, donor_key=key, email=email)
            totals = donor_totals(campaign_id=campaign.pk, donor_key=key, email=email)
        check_year_limit(campaign=campaign, amount_minor=amount_minor, totals=totals, on=on)
    followup = False
    if campaign.itemization_threshold is not None:
        if totals is None:
            lock_donor(campaign_id=campaign.pk, donor_key=key, email=email)
            totals = donor_totals(campaign_id=campaign.pk, donor_key=key, email=email)
        followup = check_itemization(
            campaign=campaign,
            donor=req.donor,
            express=req.express,
            total_minor=period_total(
                totals=totals, election=election, on=on, amount_minor=amount_minor
            ),
            has_elections=election is not None,
        )
    return GiftFacts(
        donor_key=key,
        designation=designation,
        info_followup_due=followup,
        us_passport_number=passport,
    )
