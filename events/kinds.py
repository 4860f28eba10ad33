"""What kind of organization a campaign is, and what the kind decides: whether it is political
(the "Paid for by" line), its default per-election limit and itemization threshold, what it
does with gifts from non-US addresses, its largest nameless gift, and the statements its
donors confirm by default. A campaign's own setting, where it has one, wins over its kind's
default (`Campaign.election_limit`, `Campaign.itemization_threshold`, ...).

Figures: the FEC's 2025-2026 contribution limits ($3,500 per election from an individual to a
candidate committee, $5,000 per calendar year from an individual to a PAC), its itemization rule
(a donor whose gifts pass $200 in the election cycle, or the calendar year for a PAC) and its
rule on anonymous gifts (refused over $50). A 501(c)(3)'s receipt names the organization and its
EIN and says whether goods or services were given in return.

Imports nothing of ours: events.models reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models


class CampaignKind(models.TextChoices):
    FEDERAL_CANDIDATE = "federal_candidate", "Federal candidate committee"
    PAC = "pac", "Political action committee (PAC)"
    NONPROFIT = "nonprofit", "Nonprofit, 501(c)(3)"
    OTHER = "other", "Other"


class ForeignAddress(models.TextChoices):
    """What a campaign does with a gift from a postal address outside the United States."""

    DEFAULT = "", "The kind's default"
    ALLOW = "allow", "Accept it"
    PASSPORT = "passport", "Accept it with the donor's US passport number"
    REFUSE = "refuse", "Refuse it"


# The statements a political committee's donors confirm before giving (prohibited sources:
# foreign nationals, federal contractors, corporations and unions, gifts in another's name).
POLITICAL_ATTESTATIONS = (
    "I am a US citizen or a lawfully admitted permanent resident (green card holder).",
    "This contribution is made from my own funds, not those of another person.",
    "I am not a federal contractor.",
    "I am at least 18 years old.",
    "This contribution is made on a personal card, not a corporate or business card or one "
    "of a labor union.",
)


@dataclass(frozen=True)
class KindRules:
    """A kind's defaults. `political` None: the campaign's own box decides (kind "other")."""

    political: bool | None
    election_limit_minor: int | None
    # Per calendar year from one individual, whatever the elections (a PAC's limit).
    year_limit_minor: int | None
    itemization_threshold_minor: int | None
    # Political kinds: a gift above this without the donor's full name is refused.
    anonymous_max_minor: int | None
    foreign_address: ForeignAddress
    attestations: tuple[str, ...]


RULES: dict[str, KindRules] = {
    CampaignKind.FEDERAL_CANDIDATE: KindRules(
        political=True,
        election_limit_minor=350_000,
        year_limit_minor=None,
        itemization_threshold_minor=20_000,
        anonymous_max_minor=5_000,
        foreign_address=ForeignAddress.PASSPORT,
        attestations=POLITICAL_ATTESTATIONS,
    ),
    # A PAC's individual limit is per calendar year, not per election: $5,000 (the FEC's
    # limit for an individual to a PAC, 2025-2026); the campaign may lower or raise it.
    CampaignKind.PAC: KindRules(
        political=True,
        election_limit_minor=None,
        year_limit_minor=500_000,
        itemization_threshold_minor=20_000,
        anonymous_max_minor=5_000,
        foreign_address=ForeignAddress.PASSPORT,
        attestations=POLITICAL_ATTESTATIONS,
    ),
    CampaignKind.NONPROFIT: KindRules(
        political=False,
        election_limit_minor=None,
        year_limit_minor=None,
        itemization_threshold_minor=None,
        anonymous_max_minor=None,
        foreign_address=ForeignAddress.ALLOW,
        attestations=(),
    ),
    CampaignKind.OTHER: KindRules(
        political=None,
        election_limit_minor=None,
        year_limit_minor=None,
        itemization_threshold_minor=None,
        anonymous_max_minor=None,
        foreign_address=ForeignAddress.ALLOW,
        attestations=(),
    ),
}


def rules_of(kind: str) -> KindRules:
    return RULES.get(kind, RULES[CampaignKind.OTHER])


# The two digits an EIN may begin with (the IRS's campus prefixes); 00, 07 to 09, 17 to 19, 28, 29,
# 49, 69, 70, 78, 79, 89, 96 and 97 are never issued.
_EIN = re.compile(r"([0-9]{2})-?([0-9]{7})", re.ASCII)
_NO_EIN_PREFIX = {"00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78"}
_NO_EIN_PREFIX |= {"79", "89", "96", "97"}


# The FEC's committee id: C and eight digits (C00123456).
FEC_COMMITTEE_ID = re.compile(r"C[0-9]{8}", re.ASCII)


def validate_fec_committee_id(value: str) -> None:
    if value and not FEC_COMMITTEE_ID.fullmatch(value.strip().upper()):
        raise ValidationError(
            "Enter the FEC committee ID as C and eight digits, for example C00123456.",
            code="fec_committee_id",
        )


def normalize_ein(value: str) -> str:
    """'123456789' or '12-3456789' → '12-3456789'; raises ValidationError otherwise."""
    found = _EIN.fullmatch(value.strip())
    if found is None:
        raise ValidationError(
            "Enter the EIN as nine digits, for example 12-3456789.", code="ein_format"
        )
    prefix, rest = found.groups()
    if prefix in _NO_EIN_PREFIX:
        raise ValidationError(
            f"No EIN begins with {prefix}: check the number on the IRS letter.", code="ein_prefix"
        )
    return f"{prefix}-{rest}"
