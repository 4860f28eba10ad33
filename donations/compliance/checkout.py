"""The money rules on a starting donation, run by donations.services in the transaction that
creates the pending row: which election it is for and the donor's limit. Returns what the row
stores; raises DonationRefused with the answer for the donor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from donations.compliance.designation import Designation, first_election
from donations.rules import DonationRequest, check_donor_limit
from events.elections import gift_date
from events.models import Campaign


@dataclass(frozen=True)
class GiftFacts:
    """What the money rules decided about a starting gift, for its row."""

    designation: Designation = field(default_factory=Designation)

    def as_fields(self) -> dict[str, Any]:
        return self.designation.as_fields()


def check_gift(*, campaign: Campaign, req: DonationRequest, amount_minor: int) -> GiftFacts:
    """Designate the gift and check the donor's limit. Must run in the transaction that then
    creates the pending donation (the donor's lock is held until it commits)."""
    on = gift_date()
    election = first_election(campaign=campaign, choice=req.designation, on=on)
    check_donor_limit(campaign=campaign, email=req.donor.email, amount_minor=amount_minor)
    return GiftFacts(designation=Designation.whole(election, amount_minor))
