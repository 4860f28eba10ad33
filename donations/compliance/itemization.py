"""Itemization: a donor whose gifts to a political committee pass the campaign's threshold
($200 by default) in an election cycle (the calendar year for a campaign without elections)
is reported by name, address, employer and occupation. The donate panel asks for them always;
they are required only from the gift that passes the threshold. The wallet path (whose sheet
has none of them) and a month of a monthly gift are taken without them: the gift is flagged for
the best-efforts follow-up (donations.compliance.besteffort)."""

from __future__ import annotations

from datetime import date

from donations.compliance.aggregates import DonorTotals, donor_totals
from donations.donors import DonorDetails
from donations.models import Donation
from donations.rules import DonationRefused
from events.elections import Election, gift_date
from events.models import Campaign
from events.money import format_money

# What an itemized gift must carry, as the donate panel's fields, in the panel's order.
ITEMIZED_FIELDS = (
    "first_name",
    "last_name",
    "address_line1",
    "city",
    "postal_code",
    "country",
    "employer",
    "occupation",
)
# What the follow-up asks for (the name is always known by then).
FOLLOWUP_FIELDS = ITEMIZED_FIELDS[2:]


def missing_fields(donor: DonorDetails) -> list[str]:
    """The itemized fields the donor left empty, in the panel's order."""
    return [name for name in ITEMIZED_FIELDS if not str(getattr(donor, name)).strip()]


def period_total(
    *, totals: DonorTotals, election: Election | None, on: date, amount_minor: int
) -> int:
    """The donor's total in the gift's reporting period with the gift: its election's cycle,
    or the calendar year of `on` for a campaign without elections."""
    before = totals.cycle(election.cycle) if election is not None else totals.year(on.year)
    return before + amount_minor


def check_itemization(
    *,
    campaign: Campaign,
    donor: DonorDetails,
    express: bool,
    total_minor: int,
    has_elections: bool,
) -> bool:
    """Whether the gift must be followed up for missing details (True only on the wallet
    path). A card-form gift that passes the threshold without them is refused: 400 naming the
    first missing field, with `requires` (every itemized field, for the panel to mark) and
    `missing` (the ones left empty)."""
    threshold = campaign.itemization_threshold
    if threshold is None or total_minor <= threshold:
        return False
    missing = missing_fields(donor)
    if not missing:
        return False
    if express and not {"first_name", "last_name"} & set(missing):
        return True
    period = "an election cycle" if has_elections else "a calendar year"
    raise DonationRefused(
        "Federal law asks us for the name, address, employer and occupation of every donor "
        f"who gives more than {format_money(threshold, campaign.currency)} in {period}. "
        "Please fill them in (enter “None” for an employer if you have none).",
        field=missing[0],
        extra={"requires": list(ITEMIZED_FIELDS), "missing": missing},
    )


def flag_if_itemizable(*, donation: Donation) -> bool:
    """A gift the donor did not start (a month of a monthly gift), once paid: flag it for the
    follow-up when it takes the donor past the threshold without their details. Returns
    whether it flagged it."""
    campaign = donation.campaign
    threshold = campaign.itemization_threshold
    if threshold is None or donation.info_followup_due or not missing_fields(donation.donor):
        return False
    totals = donor_totals(
        campaign_id=donation.campaign_id, donor_key=donation.donor_key, email=donation.email
    )
    if donation.election_id is not None:
        total = totals.cycle(Election.objects.get(pk=donation.election_id).cycle)
    else:
        total = totals.year(gift_date(donation.created_at).year)
    if total <= threshold:
        return False
    return bool(
        Donation.objects.filter(pk=donation.pk, info_followup_due=False).update(
            info_followup_due=True
        )
    )
