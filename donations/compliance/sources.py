"""Prohibited sources, as far as the donate form can tell: gifts from foreign nationals (a
postal address outside the United States is taken, per the campaign's setting, with the
donor's US passport number, or refused) and anonymous gifts (a political committee refuses a
gift over $50 without the donor's full name; the live ticker's "anonymous" only hides the name
from the public, the committee still has it). The attestations the donor ticks (defaults by
kind, events.kinds) are checked with the campaign's rules (donations.rules)."""

from __future__ import annotations

import re

from donations.compliance.identity import US_COUNTRIES
from donations.rules import DonationRefused, DonationRequest
from events.kinds import ForeignAddress
from events.models import Campaign
from events.money import format_money

# A US passport book or card number: nine digits, or a letter and eight digits.
_US_PASSPORT = re.compile(r"[A-Z]?[0-9]{8}|[0-9]{9}", re.ASCII)


def check_sources(*, campaign: Campaign, req: DonationRequest, amount_minor: int) -> str:
    """Refuse what the campaign may not take (DonationRefused, 400 naming the field). Returns
    the passport number to store ("" when none is needed)."""
    anonymous_max = campaign.rules.anonymous_max_minor
    first, last = req.donor.first_name.strip(), req.donor.last_name.strip()
    if anonymous_max is not None and amount_minor > anonymous_max and not (first and last):
        limit = format_money(anonymous_max, campaign.currency)
        raise DonationRefused(
            f"Gifts over {limit} need your first and last name: the law does not allow "
            f"anonymous contributions over {limit}.",
            field="last_name" if first else "first_name",
        )
    country = req.donor.country.strip().upper()
    if not country or country in US_COUNTRIES:
        return ""
    policy = campaign.foreign_address
    if policy == ForeignAddress.REFUSE:
        raise DonationRefused(
            "This campaign can take gifts only from addresses in the United States.",
            field="country",
        )
    if policy != ForeignAddress.PASSPORT:
        return ""
    number = req.us_passport_number
    if not number:
        raise DonationRefused(
            "A gift from an address outside the United States needs your US passport number: "
            "US law bars gifts from foreign nationals.",
            field="us_passport_number",
            extra={"requires": ["us_passport_number"]},
        )
    if not _US_PASSPORT.fullmatch(number):
        raise DonationRefused(
            "Enter your US passport number as printed: nine characters, such as 123456789 or "
            "A12345678.",
            field="us_passport_number",
        )
    return number
