"""Reads of the donation ledger: tallies, the ticker, what the donate panel needs, exports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet, Sum

from donations.defence import issue_page_token
from donations.models import Donation, TallyShard, campaign_scope, event_scope
from donations.providers import get_provider
from events.models import CURRENCY_SYMBOLS, Campaign, Event

RECENT_DONORS = 5
ANONYMOUS = "Anonymous"


@dataclass(frozen=True)
class RecentDonor:
    display_name: str  # what the donor allowed; "Anonymous" when they chose anonymity
    amount_minor: int | None  # None when the donor hid the amount
    message: str  # ticker message, "" when none (plain text: pages escape it)


@dataclass(frozen=True)
class EventTally:
    event_id: int
    currency: str
    raised_minor: int  # net of refunds and disputes
    donors: int  # distinct donors (by email)
    donations: int  # succeeded, not fully refunded or disputed
    recent: list[RecentDonor]  # newest first, at most 5, only donors who opted into the ticker


@dataclass(frozen=True)
class Tally:
    raised_minor: int
    donors: int
    donations: int


def _scope_tally(scope: str) -> Tally:
    sums = TallyShard.objects.filter(scope=scope).aggregate(
        raised=Sum("raised_minor"), donors=Sum("donors"), donations=Sum("donations")
    )
    return Tally(
        raised_minor=sums["raised"] or 0,
        donors=sums["donors"] or 0,
        donations=sums["donations"] or 0,
    )


def _recent_donor(row: Donation) -> RecentDonor:
    name = ANONYMOUS if row.anonymous else (row.display_name or row.first_name or ANONYMOUS)
    return RecentDonor(
        display_name=name,
        amount_minor=None if row.hide_amount else row.net_minor,
        message=row.message,
    )


def recent_donors(*, event_id: int, limit: int = RECENT_DONORS) -> list[RecentDonor]:
    """Newest first; only counted donations whose donors opted into the ticker (partial index)."""
    rows = (
        Donation.objects.filter(event_id=event_id, ticker_opt_in=True, net_minor__gt=0)
        .order_by("-succeeded_at", "-id")
        .only("anonymous", "display_name", "first_name", "hide_amount", "net_minor", "message")[
            :limit
        ]
    )
    return [_recent_donor(row) for row in rows]


def event_tally(*, event_id: int) -> EventTally:
    """The event's tally and ticker: three indexed queries (the event's currency, the sum of
    at most TALLY_SHARDS shard rows, the five newest ticker rows), no scan of the ledger.
    Raises Event.DoesNotExist for an unknown event."""
    currency = Event.objects.filter(pk=event_id).values_list("campaign__currency", flat=True).get()
    tally = _scope_tally(event_scope(event_id))
    return EventTally(
        event_id=event_id,
        currency=currency,
        raised_minor=tally.raised_minor,
        donors=tally.donors,
        donations=tally.donations,
        recent=recent_donors(event_id=event_id),
    )


def campaign_tally(*, campaign_id: int) -> Tally:
    """The campaign's tally over all its events (donors distinct across the campaign)."""
    return _scope_tally(campaign_scope(campaign_id))


def ledger_tally(*, event_id: int | None = None, campaign_id: int | None = None) -> Tally:
    """The tally computed from the ledger itself (a scan): what the shards must equal."""
    rows = Donation.objects.filter(net_minor__gt=0)
    if event_id is not None:
        rows = rows.filter(event_id=event_id)
    if campaign_id is not None:
        rows = rows.filter(campaign_id=campaign_id)
    raised = rows.aggregate(total=Sum("net_minor"))["total"] or 0
    return Tally(
        raised_minor=raised,
        donors=rows.values("email").distinct().count(),
        donations=rows.count(),
    )


def campaign_donations(*, campaign: Campaign) -> QuerySet[Donation]:
    """All of a campaign's donations for the export, oldest first."""
    return (
        Donation.objects.filter(campaign=campaign)
        .select_related("event")
        .order_by("created_at", "id")
    )


def iter_campaign_donations(*, campaign: Campaign, chunk_size: int = 2000) -> Iterator[Donation]:
    """Streams rows with a server-side cursor, so 100,000 rows never sit in memory at once."""
    return campaign_donations(campaign=campaign).iterator(chunk_size=chunk_size)


@dataclass(frozen=True)
class DonatePanel:
    """What the event page's donate panel needs (templates/donations/donate_panel.html)."""

    open: bool  # the event takes donations and a provider is configured
    simulated: bool
    publishable_key: str
    page_token: str
    currency: str
    currency_symbol: str
    suggested_minor: list[int]
    min_minor: int
    max_minor: int | None
    fee_percent_bp: int
    fee_fixed_minor: int
    required_fields: list[str]
    attestations: list[tuple[int, str]]

    def config(self) -> dict[str, object]:
        """The JSON the panel's script reads (json_script: inert in the page)."""
        return {
            "simulated": self.simulated,
            "publishableKey": self.publishable_key,
            "pageToken": self.page_token,
            "currency": self.currency,
            "symbol": self.currency_symbol,
            "minMinor": self.min_minor,
            "maxMinor": self.max_minor,
            "feePercentBp": self.fee_percent_bp,
            "feeFixedMinor": self.fee_fixed_minor,
        }


def donate_panel(*, event: Event) -> DonatePanel:
    """The panel for a public event page (one query: the campaign's attestations)."""
    campaign = event.campaign
    provider = get_provider()
    return DonatePanel(
        open=provider is not None and event.status in ("live", "scheduled"),
        simulated=bool(provider and provider.simulated),
        publishable_key=provider.publishable_key if provider else "",
        page_token=issue_page_token(event_id=event.pk),
        currency=campaign.currency,
        currency_symbol=CURRENCY_SYMBOLS.get(campaign.currency, ""),
        suggested_minor=list(event.suggested_amounts),
        min_minor=campaign.min_donation_minor,
        max_minor=campaign.max_donation_minor,
        fee_percent_bp=settings.DONATION_FEE_PERCENT_BP,
        fee_fixed_minor=settings.DONATION_FEE_FIXED_MINOR,
        required_fields=campaign.required_donor_fields,
        attestations=[(a.pk, a.text) for a in campaign.attestations.all()],
    )
