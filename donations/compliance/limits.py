"""The limit per election at checkout: a gift may take a donor's total for its election up to
the campaign's limit (events.models.Campaign.election_limit), whatever email they give under
(donations.compliance.identity).

A gift past the room left is refused with that room and, for a one-time gift whose excess fits
the room of the next election of the same cycle, an offer: the room to this election and the
rest to the next, for one charge, if the donor consents (a signed token,
donations.compliance.consent). The donor's next start of the same attempt carries
`designation: {"split_to": <that election's id>, "consent": <the token>}`.

A campaign with a limit per calendar year (a PAC's $5,000 by default, events.kinds) also
keeps each donor's gifts of a year, by identity, within it: a gift past it is refused with the
room left (there is no later election to move the excess to)."""

from __future__ import annotations

from datetime import date

from donations.compliance.aggregates import DonorTotals
from donations.compliance.consent import ConsentInvalid, ConsentStale, SplitOffer
from donations.compliance.designation import Designation, campaign_election
from donations.rules import DonationRefused, DonationRequest
from events.elections import Election, later_in_cycle
from events.models import Campaign
from events.money import format_money


def _money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency, grouped=True)


def _ref(election: Election | None) -> dict[str, object] | None:
    return None if election is None else {"id": election.pk, "name": election.name}


def over_limit(
    *,
    campaign: Campaign,
    election: Election,
    amount_minor: int,
    room_minor: int,
    offer: SplitOffer | None,
    later: Election | None,
) -> DonationRefused:
    """The refusal of a gift past the election's room (400 on `amount_minor`), with the
    offer to move the excess to `later` when there is one."""
    money = campaign.currency
    if room_minor == 0:
        message = f"You have reached the contribution limit for the {election.name}."
    else:
        message = (
            f"This would take you past the contribution limit for the {election.name}: you "
            f"can give at most {_money(room_minor, money)} more (fees included)."
        )
    excess = amount_minor - room_minor
    if offer is not None and later is not None:
        message += (
            f" With your consent, {_money(excess, money)} can go to the {later.name} "
            "instead, in the same payment."
        )
    elif room_minor == 0:
        message += " Thank you!"
    return DonationRefused(
        message,
        field="amount_minor",
        extra={
            "room_minor": room_minor,
            "excess_minor": excess,
            "election": _ref(election),
            "next_election": _ref(later) if offer is not None else None,
            "consent": offer.token() if offer is not None else None,
        },
    )


def check_election_limit(
    *,
    campaign: Campaign,
    election: Election,
    amount_minor: int,
    totals: DonorTotals,
    req: DonationRequest,
    donor_key: str,
    on: date,
) -> Designation:
    """The gift's designation: the whole gift to `election` when it fits its room; split
    with the room to `election` and the rest to the next election of the cycle when the
    request carries the donor's valid consent to exactly that. Raises DonationRefused
    otherwise: the over-limit answer (with a fresh offer when there is one), or 400 on
    `designation` for a consent we did not give for this gift and donor, or a `split_to`
    election of another campaign, past, or not the one offered. Call with the donor's totals
    read under their lock."""
    limit = campaign.election_limit
    if limit is None:
        return Designation.whole(election, amount_minor)
    room = max(0, limit - totals.election(election.pk))
    if amount_minor <= room:
        return Designation.whole(election, amount_minor)
    later = later_in_cycle(election)
    offer = None
    if (
        later is not None
        and not req.monthly
        and amount_minor - room <= max(0, limit - totals.election(later.pk))
    ):
        offer = SplitOffer(
            campaign_id=campaign.pk,
            attempt_key=req.attempt_key,
            amount_minor=amount_minor,
            election_id=election.pk,
            next_election_id=later.pk,
            room_minor=room,
            donor_key=donor_key,
            email=req.donor.email,
        )
    refusal = over_limit(
        campaign=campaign,
        election=election,
        amount_minor=amount_minor,
        room_minor=room,
        offer=offer,
        later=later,
    )
    split_to = req.designation.split_to
    if split_to is None:
        raise refusal
    target = campaign_election(campaign=campaign, election_id=split_to, on=on)
    if offer is None or later is None:
        raise refusal
    if target.pk != later.pk:
        raise DonationRefused(
            f"The rest of this gift can only go to the {later.name}, the "
            f"next election after the {election.name}.",
            field="designation",
        )
    try:
        offer.check(req.designation.consent)
    except ConsentInvalid:
        raise DonationRefused(
            "This consent was not given for this gift. Please confirm again where the rest "
            "of your gift goes.",
            field="designation",
        ) from None
    except ConsentStale:
        raise refusal from None
    if room == 0:
        return Designation.whole(target, amount_minor)
    return Designation(
        election_id=election.pk,
        election_minor=room,
        split_election_id=target.pk,
        split_minor=amount_minor - room,
    )


def check_year_limit(
    *, campaign: Campaign, amount_minor: int, totals: DonorTotals, on: date
) -> None:
    """Refuse (400 on `amount_minor`, with `room_minor`) a gift that would take the donor's
    gifts of `on`'s calendar year past the campaign's limit per year. Call with the donor's
    totals read under their lock."""
    limit = campaign.year_limit
    if limit is None:
        return
    room = max(0, limit - totals.year(on.year))
    if amount_minor <= room:
        return
    money = campaign.currency
    if room == 0:
        message = (
            f"You have reached the contribution limit of {_money(limit, money)} for "
            f"{on.year}. Thank you!"
        )
    else:
        message = (
            f"This would take you past the contribution limit of {_money(limit, money)} for "
            f"{on.year}: you can give at most {_money(room, money)} more this year (fees "
            "included)."
        )
    raise DonationRefused(
        message,
        field="amount_minor",
        extra={"room_minor": room, "excess_minor": amount_minor - room, "year": on.year},
    )
