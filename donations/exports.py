"""The staff's CSV export of a campaign's donations: its columns, one row per donation (the
donor's details as they gave them). Written by events.exports.

`matched_minor` is what a sponsor's match adds to the gift (donations/matching.py): the
sponsor's money, beside the gift and never counted in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import attrgetter

from donations import matching, selectors
from donations.donors import DONOR_FIELDS
from donations.models import Donation
from events.models import Campaign


def show_phase(donation: Donation) -> str:
    """When the gift was given against its event's show: before, during or after it."""
    event = donation.event
    if event.went_live_at is None or donation.created_at < event.went_live_at:
        return "before the show"
    if event.ended_at is not None and donation.created_at >= event.ended_at:
        return "after the show"
    return "during the show"


COLUMNS: list[tuple[str, Callable[[Donation], object]]] = [
    ("donation_id", lambda d: d.pk),
    ("created_at", lambda d: d.created_at.isoformat()),
    ("succeeded_at", lambda d: d.succeeded_at.isoformat() if d.succeeded_at else ""),
    ("event", lambda d: d.event.title),
    ("given", show_phase),
    ("status", lambda d: d.status),
    ("currency", lambda d: d.currency),
    ("gift_minor", lambda d: d.gift_minor),
    ("fee_minor", lambda d: d.fee_minor),
    ("amount_minor", lambda d: d.amount_minor),
    ("interval", lambda d: d.interval or "once"),
    ("monthly_gift_id", lambda d: d.monthly_gift_id or ""),
    ("invoice_id", lambda d: d.invoice_id or ""),
    ("refunded_minor", lambda d: d.refunded_minor),
    ("net_minor", lambda d: d.net_minor),
    *((name, attrgetter(name)) for name in DONOR_FIELDS),
    ("attestations", lambda d: " | ".join(d.attestations)),
    ("display_name", lambda d: d.display_name),
    ("message", lambda d: d.message),
    ("anonymous", lambda d: "yes" if d.anonymous else "no"),
    ("refcode", lambda d: d.refcode),
    ("ask_tag", lambda d: d.ask_tag),
    ("payment_id", lambda d: d.payment_id or ""),
]

# The match's column follows the gift's net.
_MATCHED_AT = [name for name, _ in COLUMNS].index("net_minor") + 1
HEADER = [name for name, _ in COLUMNS]
HEADER.insert(_MATCHED_AT, "matched_minor")


def donation_rows(*, campaign: Campaign) -> Iterator[list[object]]:
    """Every donation of the campaign, oldest first, streamed from a server-side cursor, with
    what the campaign's match offers add to each (one query per offer first)."""
    matched = matching.campaign_gift_matches(campaign=campaign)
    for donation in selectors.iter_campaign_donations(campaign=campaign):
        row = [get(donation) for _, get in COLUMNS]
        row.insert(_MATCHED_AT, matched.get(donation.pk, 0))
        yield row
