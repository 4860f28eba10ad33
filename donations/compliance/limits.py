"""The limit per election at checkout: a gift may take a donor's total for its election up to
the campaign's limit (events.models.Campaign.election_limit), whatever email they give under
(donations.compliance.identity). A gift past it is refused with the room left."""

from __future__ import annotations

from donations.compliance.aggregates import DonorTotals
from donations.compliance.designation import Designation
from donations.rules import DonationRefused
from events.elections import Election
from events.models import Campaign
from events.money import format_money


def over_limit(
    *, campaign: Campaign, election: Election, room_minor: int, extra: dict[str, object]
) -> DonationRefused:
    """The refusal of a gift past the election's room (400 on `amount_minor`)."""
    room = max(0, room_minor)
    if room == 0:
        message = f"You have reached the contribution limit for the {election.name}. Thank you!"
    else:
        message = (
            f"This would take you past the contribution limit for the {election.name}: you "
            f"can give at most {format_money(room, campaign.currency)} more (fees included)."
        )
    return DonationRefused(message, field="amount_minor", extra={"room_minor": room, **extra})


def check_election_limit(
    *, campaign: Campaign, election: Election, amount_minor: int, totals: DonorTotals
) -> Designation:
    """The gift's designation if it fits the election's room; raises DonationRefused
    otherwise. Call with the donor's totals read under their lock."""
    limit = campaign.election_limit
    if limit is None:
        return Designation.whole(election, amount_minor)
    room = limit - totals.election(election.pk)
    if amount_minor > room:
        raise over_limit(
            campaign=campaign, election=election, room_minor=room, extra={"next_election": None}
        )
    return Designation.whole(election, amount_minor)
