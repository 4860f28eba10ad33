"""Which election a gift is for. By default the next election on the gift's date (the FEC's
presumption, events.elections); the donor's own choice where the campaign allows it; a split
gift (donations.compliance.limits) gives the excess over the limit to a later election of the
same cycle. Stored on the donation row: `election` and `election_minor`, `split_election` and
`split_minor`, adding up to the charged amount (a check constraint)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from donations.models import Donation
from donations.rules import DesignationChoice, DonationRefused
from events.elections import Election, next_election
from events.models import Campaign


@dataclass(frozen=True)
class Designation:
    """A donation's designations: (election id, amount) for each part, the first part first."""

    election_id: int | None = None
    election_minor: int = 0
    split_election_id: int | None = None
    split_minor: int = 0

    @classmethod
    def whole(cls, election: Election | None, amount_minor: int) -> Designation:
        if election is None:
            return cls()
        return cls(election_id=election.pk, election_minor=amount_minor)

    def as_fields(self) -> dict[str, Any]:
        """Keyword arguments for a Donation."""
        return {
            "election_id": self.election_id,
            "election_minor": self.election_minor,
            "split_election_id": self.split_election_id,
            "split_minor": self.split_minor,
        }


def _refuse(message: str) -> DonationRefused:
    return DonationRefused(message, field="designation")


def campaign_election(*, campaign: Campaign, election_id: int, on: date) -> Election:
    """One of the campaign's elections still ahead on `on`; raises DonationRefused (400,
    field "designation") for an election of another campaign, an unknown one or a past one."""
    election = Election.objects.filter(pk=election_id).first()
    if election is None or election.campaign_id != campaign.pk:
        raise _refuse("That election is not one of this campaign's. Reload the page.")
    if election.date < on:
        raise _refuse(f"The {election.name} is over: a gift can only be for an election ahead.")
    return election


def first_election(*, campaign: Campaign, choice: DesignationChoice, on: date) -> Election | None:
    """The election a starting gift is for (before any split): the donor's choice where the
    campaign allows it, else the next election on `on`. None when the campaign has no
    elections. Raises DonationRefused when the choice is refused or no election is ahead."""
    default = next_election(campaign_id=campaign.pk, on=on)
    if choice.election_id is not None:
        chosen = campaign_election(campaign=campaign, election_id=choice.election_id, on=on)
        if default is not None and chosen.pk != default.pk and not campaign.donor_chooses_election:
            raise _refuse(
                f"Gifts to this campaign are for its next election, the {default.name}: "
                "choosing another is not open."
            )
        return chosen
    if default is None and Election.objects.filter(campaign_id=campaign.pk).exists():
        raise DonationRefused(
            "This campaign takes gifts again once its next election is announced.", status=409
        )
    return default


def installment_designation(*, campaign_id: int, amount_minor: int, on: date) -> Designation:
    """A month of a monthly gift is for the next election on the day it is paid (none when
    no election is ahead: the treasurer designates it)."""
    return Designation.whole(next_election(campaign_id=campaign_id, on=on), amount_minor)


def designation_answer(*, donation_id: int) -> list[dict[str, Any]]:
    """The start answer's `designation`: each part as {"election": {"id", "name"},
    "amount_minor"}, the first part first ([] when the campaign has no elections)."""
    from_row = (
        Donation.objects.select_related("election", "split_election")
        .only("election", "election_minor", "split_election", "split_minor")
        .get(pk=donation_id)
    )
    parts = [
        (from_row.election, from_row.election_minor),
        (from_row.split_election, from_row.split_minor),
    ]
    return [
        {"election": {"id": e.pk, "name": e.name}, "amount_minor": minor}
        for e, minor in parts
        if e is not None
    ]
