"""The live ticker's rules and staff's say over it.

What a donor's line says: the display name they typed, or else their first name and where
they are from ("Ada in Columbus, OH", "Ada from Ohio"), never the full name; "Anonymous" when
they asked for it; "Someone", without a name or message, for a gift below the campaign's
`ticker_name_min_minor`; words the profanity filter (`better-profanity`, when the campaign's
`ticker_profanity_filter` is on) catches shown as ****. The rules are applied when a line is
read, so a campaign's change of rules applies to the lines already shown; the donor's own
text stays in the ledger for staff. The donate panel (donate.js) previews the same rules.

Staff take a line out of the ticker (`set_ticker_hidden`) and the live room hears of it on
commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from typing import Any

from better_profanity import Profanity
from django.db import transaction
from django.utils import timezone

from donations.models import Donation
from events import livebus
from events.models import Campaign

log = logging.getLogger(__name__)

ANONYMOUS = "Anonymous"
SOMEONE = "Someone"


@dataclass(frozen=True)
class TickerRules:
    """A campaign's rules for its ticker lines."""

    name_min_minor: int = 0
    mask_profanity: bool = True

    @classmethod
    def of(cls, campaign: Campaign) -> TickerRules:
        return cls(
            name_min_minor=campaign.ticker_name_min_minor,
            mask_profanity=campaign.ticker_profanity_filter,
        )


@dataclass(frozen=True)
class TickerText:
    name: str
    message: str  # "" for none
    masked: bool  # the filter changed the name or the message


def default_name(*, first_name: str, city: str, region: str) -> str:
    """First name and where the donor is from; "" without a first name."""
    first, city, region = first_name.strip(), city.strip(), region.strip()
    if not first:
        return ""
    if city and region:
        return f"{first} in {city}, {region}"
    if city:
        return f"{first} in {city}"
    if region:
        return f"{first} from {region}"
    return first


@cache
def _filter() -> Any:
    # The word list is loaded once per process (about 5 MB), on first use; censoring only
    # reads it, so threads may share it.
    return Profanity()


@lru_cache(maxsize=4096)
def mask(text: str) -> str:
    """`text` with the filter's words as ****. Cached: the same few lines are read for every
    snapshot of an event."""
    if not text:
        return text
    return str(_filter().censor(text))


def ticker_text(
    *,
    rules: TickerRules,
    gift_minor: int,
    anonymous: bool,
    display_name: str,
    first_name: str,
    city: str,
    region: str,
    message: str,
) -> TickerText:
    """The line's name and message under the campaign's rules (see the module docstring)."""
    if gift_minor < rules.name_min_minor:
        return TickerText(name=SOMEONE, message="", masked=False)
    if anonymous:
        name = ANONYMOUS
    else:
        name = display_name.strip() or (
            default_name(first_name=first_name, city=city, region=region) or ANONYMOUS
        )
    if not rules.mask_profanity:
        return TickerText(name=name, message=message, masked=False)
    shown_name, shown_message = mask(name), mask(message)
    return TickerText(
        name=shown_name,
        message=shown_message,
        masked=(shown_name, shown_message) != (name, message),
    )


def line_of(row: Donation, rules: TickerRules) -> TickerText:
    """`ticker_text` for a donation row (its fields in TICKER_FIELDS loaded)."""
    return ticker_text(
        rules=rules,
        gift_minor=row.gift_minor,
        anonymous=row.anonymous,
        display_name=row.display_name,
        first_name=row.first_name,
        city=row.city,
        region=row.region,
        message=row.message,
    )


# The donation's fields a ticker line is made of.
TICKER_FIELDS = (
    "gift_minor", "anonymous", "display_name", "first_name", "city", "region", "message",
    "hide_amount",
)  # fmt: skip


@transaction.atomic
def set_ticker_hidden(
    *, event_id: int, donation_id: int, hidden: bool, by_user_id: int | None
) -> None:
    """Hide the donation's line from the event's live ticker (or show it again); every page's
    ticker follows with the next snapshot (the live room is told on commit). Raises
    Donation.DoesNotExist when the donation is not one of the event's (and changes nothing).
    Idempotent: hiding a hidden line changes nothing but tells the live room again."""
    changed = Donation.objects.filter(pk=donation_id, event_id=event_id).update(
        ticker_hidden=hidden, updated_at=timezone.now()
    )
    if not changed:
        raise Donation.DoesNotExist(f"donation {donation_id} is not one of event {event_id}'s")
    log.info(
        "ticker line %s",
        "hidden" if hidden else "shown",
        extra={"donation_id": donation_id, "event_id": event_id, "user_id": by_user_id},
    )
    transaction.on_commit(partial(livebus.publish_change, event_id=event_id, kind="tally"))
