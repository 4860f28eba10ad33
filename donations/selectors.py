"""Reads of the donation ledger: tallies, the ticker, what the donate panel needs, exports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from donations import matching, milestones, ticker
from donations.defence import issue_page_token
from donations.forms import StartDonationForm
from donations.models import Donation, DonationStatus, TallyShard, campaign_scope, event_scope
from donations.providers import get_provider
from donations.rules import missing_field_messages
from events.kinds import ForeignAddress
from events.models import Campaign, Event
from events.money import CURRENCY_SYMBOLS, format_money

RECENT_DONORS = 5
EMAIL_MESSAGES = StartDonationForm.base_fields["email"].error_messages
ANONYMOUS = ticker.ANONYMOUS


@dataclass(frozen=True)
class RecentDonor:
    display_name: str  # what the donor allowed, under the campaign's rules (donations.ticker)
    amount_minor: int | None  # None when the donor hid the amount
    message: str  # ticker message, "" when none (plain text: pages escape it)
    masked: bool = False  # the profanity filter masked part of the name or message


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


def _recent_donor(row: Donation, rules: ticker.TickerRules) -> RecentDonor:
    line = ticker.line_of(row, rules)
    return RecentDonor(
        display_name=line.name,
        amount_minor=None if row.hide_amount else row.net_minor,
        message=line.message,
        masked=line.masked,
    )


def _ticker_rules(*, event_id: int) -> ticker.TickerRules:
    name_min, mask = (
        Event.objects.filter(pk=event_id)
        .values_list("campaign__ticker_name_min_minor", "campaign__ticker_profanity_filter")
        .get()
    )
    return ticker.TickerRules(name_min_minor=name_min, mask_profanity=mask)


def recent_donors(
    *, event_id: int, limit: int = RECENT_DONORS, rules: ticker.TickerRules | None = None
) -> list[RecentDonor]:
    """Newest first; only counted donations whose donors opted into the ticker and that staff
    did not hide (partial index). One query with `rules`, two without (the campaign's)."""
    if rules is None:
        rules = _ticker_rules(event_id=event_id)
    rows = (
        Donation.objects.filter(
            event_id=event_id, ticker_opt_in=True, ticker_hidden=False, net_minor__gt=0
        )
        .order_by("-succeeded_at", "-id")
        .only(*ticker.TICKER_FIELDS, "net_minor")[:limit]
    )
    return [_recent_donor(row, rules) for row in rows]


def ticker_entry(*, donation_id: int) -> RecentDonor | None:
    """How a donation will show in the ticker once paid (its full amount), or None when the
    donor did not opt in. One query."""
    row = (
        Donation.objects.filter(pk=donation_id, ticker_opt_in=True)
        .select_related("campaign")
        .only(
            *ticker.TICKER_FIELDS, "amount_minor", "campaign__ticker_name_min_minor",
            "campaign__ticker_profanity_filter",
        )
        .first()
    )  # fmt: skip
    if row is None:
        return None
    row.net_minor = row.amount_minor
    return _recent_donor(row, ticker.TickerRules.of(row.campaign))


def event_tally(*, event_id: int) -> EventTally:
    """The event's tally and ticker: three indexed queries (the event's currency, the sum of
    at most TALLY_SHARDS shard rows, the five newest ticker rows), no scan of the ledger.
    Raises Event.DoesNotExist for an unknown event."""
    currency, name_min, mask = (
        Event.objects.filter(pk=event_id)
        .values_list(
            "campaign__currency",
            "campaign__ticker_name_min_minor",
            "campaign__ticker_profanity_filter",
        )
        .get()
    )
    rules = ticker.TickerRules(name_min_minor=name_min, mask_profanity=mask)
    tally = _scope_tally(event_scope(event_id))
    return EventTally(
        event_id=event_id,
        currency=currency,
        raised_minor=tally.raised_minor,
        donors=tally.donors,
        donations=tally.donations,
        recent=recent_donors(event_id=event_id, rules=rules),
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
    monthly_enabled: bool
    ticker_name_min_minor: int = 0
    ticker_profanity_filter: bool = True
    # A campaign that itemizes (a political committee): the panel asks the itemized details
    # (address, employer, occupation) always, as optional; the start view says when they
    # become required (donations.compliance.itemization).
    itemized: bool = False
    # A campaign that takes a non-US address with a US passport number: the panel holds the
    # field, shown when the start view asks for it (donations.compliance.sources).
    asks_passport: bool = False

    @property
    def express_first(self) -> bool:
        """Whether the wallets (Express Checkout) sit with the amounts in the first step: only
        when a wallet gives everything the campaign requires (name, email, billing address).
        Otherwise they sit in the last step, after the donor's details and attestations."""
        return not self.attestations and set(self.required_fields) <= {"name", "email", "address"}

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
            "monthly": self.monthly_enabled,
            # The ticker's rules, for the panel's preview of the donor's line.
            "tickerNameMinMinor": self.ticker_name_min_minor,
            "tickerFilter": self.ticker_profanity_filter,
            "anonymousName": ticker.ANONYMOUS,
            "someoneName": ticker.SOMEONE,
            # The server's own words for an empty required field, said next to it at once.
            "messages": {
                **missing_field_messages(),
                "email": EMAIL_MESSAGES["required"],
                "email_invalid": EMAIL_MESSAGES["invalid"],
            },
            "walletAddress": "address" in self.required_fields,
        }


def donate_panel(*, event: Event) -> DonatePanel:
    """The panel for a public event page (one query: the campaign's attestations)."""
    campaign = event.campaign
    provider = get_provider()
    return DonatePanel(
        # Before, through and after the show (its giving window), as the rules take gifts.
        open=provider is not None and event.giving_open(timezone.now()),
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
        monthly_enabled=campaign.monthly_enabled,
        ticker_name_min_minor=campaign.ticker_name_min_minor,
        ticker_profanity_filter=campaign.ticker_profanity_filter,
        itemized=campaign.itemization_threshold is not None,
        asks_passport=campaign.foreign_address == ForeignAddress.PASSPORT,
    )


# --- The staff's live dashboard (events/dashboard.py) ----------------------------------------


class _EpochBucket(Func):
    """The number of the `size`-second bucket a datetime falls in (seconds since the epoch
    divided by `size`, rounded down): bucketing happens in SQL, on any backend."""

    output_field = BigIntegerField()

    def __init__(self, expression: Any, *, size: int) -> None:
        super().__init__(expression)
        self.size = size

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"FLOOR(EXTRACT(EPOCH FROM {sql}) / %s)::bigint", [*params, self.size]
        if connection.vendor == "sqlite":
            return f"(CAST(STRFTIME('%%s', {sql}) AS INTEGER) / %s)", [*params, self.size]
        raise NotImplementedError(f"no epoch bucketing for {connection.vendor}")


BEFORE = -1  # the bucket number of everything that succeeded before `since`


@dataclass(frozen=True)
class RaisedBucket:
    start: datetime  # aware, UTC; the bucket covers [start, start + bucket_seconds)
    raised_minor: int
    donations: int


@dataclass(frozen=True)
class RaisedSeries:
    """Counted money per bucket of time, by when each donation succeeded. The same truth as the
    tally: a donation counts its `net_minor` (charged minus refunds and disputes) when that is
    above zero, so a refund lowers the bucket its donation succeeded in, and the buckets plus
    `before_minor` add up to the tally's `raised_minor` (and `donations` likewise)."""

    bucket_seconds: int
    before_minor: int  # counted before `since` (0 without `since`)
    before_donations: int
    buckets: list[RaisedBucket]  # oldest first; buckets without donations are left out

    @property
    def raised_minor(self) -> int:
        return self.before_minor + sum(b.raised_minor for b in self.buckets)

    @property
    def donations(self) -> int:
        return self.before_donations + sum(b.donations for b in self.buckets)


def event_raised_series(
    *, event_id: int, bucket_seconds: int, since: datetime | None = None
) -> RaisedSeries:
    """One aggregate query (GROUP BY the bucket number, in SQL), whatever the number of
    donations: at most one row per bucket that had a donation, plus one for before `since`."""
    if bucket_seconds < 1:
        raise ValueError("bucket_seconds must be at least 1")
    bucket: Any = _EpochBucket(F("succeeded_at"), size=bucket_seconds)
    if since is not None:
        bucket = Case(
            When(succeeded_at__lt=since, then=Value(BEFORE)),
            default=bucket,
            output_field=BigIntegerField(),
        )
    rows = (
        Donation.objects.filter(event_id=event_id, net_minor__gt=0, succeeded_at__isnull=False)
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(raised=Sum("net_minor"), count=Count("id"))
        .order_by("bucket")
        .values_list("bucket", "raised", "count")
    )
    before_minor = before_donations = 0
    buckets: list[RaisedBucket] = []
    for number, raised, count in rows:
        if number == BEFORE:
            before_minor, before_donations = int(raised), int(count)
            continue
        start = datetime.fromtimestamp(int(number) * bucket_seconds, tz=UTC)
        buckets.append(RaisedBucket(start=start, raised_minor=int(raised), donations=int(count)))
    return RaisedSeries(
        bucket_seconds=bucket_seconds,
        before_minor=before_minor,
        before_donations=before_donations,
        buckets=buckets,
    )


@dataclass(frozen=True)
class RefcodeTotal:
    refcode: str  # "" for donations that came without one
    raised_minor: int
    donations: int
    after_show_minor: int = 0  # of raised_minor, given after the show ended


def _after(ended_at: datetime | None) -> Any:
    """Counted money given (started) after the show ended: late gifts from the replay page."""
    if ended_at is None:
        return Value(0)
    return Sum("net_minor", filter=Q(created_at__gte=ended_at), default=0)


def event_top_refcodes(
    *, event_id: int, limit: int, ended_at: datetime | None = None
) -> list[RefcodeTotal]:
    """The refcodes that raised the most (counted money, as the tally counts it), most first;
    ties by number of donations, then by refcode; with what each raised after the show
    (`ended_at`). One aggregate query."""
    rows = (
        Donation.objects.filter(event_id=event_id, net_minor__gt=0)
        .values("refcode")
        .annotate(raised=Sum("net_minor"), count=Count("id"), after=_after(ended_at))
        .order_by("-raised", "-count", "refcode")
        .values_list("refcode", "raised", "count", "after")[:limit]
    )
    return [
        RefcodeTotal(refcode=r, raised_minor=int(s), donations=int(n), after_show_minor=int(a))
        for r, s, n, a in rows
    ]


@dataclass(frozen=True)
class ShowPhases:
    """Counted money by when it was given: before the show went live, during it, and after
    it ended (the replay page's giving window)."""

    before_minor: int
    during_minor: int
    after_minor: int
    before_donations: int
    during_donations: int
    after_donations: int


def event_show_phases(
    *, event_id: int, went_live_at: datetime | None, ended_at: datetime | None
) -> ShowPhases:
    """One aggregate query. A gift belongs to the moment the donor gave (started it)."""
    far = datetime.max.replace(tzinfo=UTC)
    start = went_live_at or far
    end = ended_at or far
    before = Q(created_at__lt=start)
    after = Q(created_at__gte=end)
    during = ~before & ~after
    row = Donation.objects.filter(event_id=event_id, net_minor__gt=0).aggregate(
        before_minor=Sum("net_minor", filter=before, default=0),
        during_minor=Sum("net_minor", filter=during, default=0),
        after_minor=Sum("net_minor", filter=after, default=0),
        before_donations=Count("id", filter=before),
        during_donations=Count("id", filter=during),
        after_donations=Count("id", filter=after),
    )
    return ShowPhases(**{key: int(value) for key, value in row.items()})


@dataclass(frozen=True)
class StaffDonation:
    """A donation as staff see it on the dashboard: the donor's name (whatever they chose for
    the ticker), never their email or address (the export has those)."""

    donation_id: int
    succeeded_at: datetime
    name: str
    amount_minor: int  # charged
    net_minor: int  # what counts after refunds and disputes
    currency: str
    refcode: str
    status: str  # a DonationStatus value
    status_label: str
    in_ticker: bool = False  # the donor opted into the ticker
    ticker_hidden: bool = False  # staff hid the line
    ticker_line: str = ""  # what the ticker says (or would say) of it; "" when not in it


def _staff_ticker_line(row: Donation) -> str:
    if not row.ticker_opt_in:
        return ""
    line = ticker.line_of(row, ticker.TickerRules.of(row.campaign))
    parts = [line.name]
    if not row.hide_amount:
        parts.append(format_money(row.net_minor, row.currency, grouped=True))
    if line.message:
        parts.append(f"“{line.message}”")
    return " — ".join(parts)


def event_recent_donations(*, event_id: int, limit: int) -> list[StaffDonation]:
    """The newest donations whose payment succeeded (refunded or disputed ones too, with their
    status), newest first. One query; pending and failed attempts are left out."""
    rows = (
        Donation.objects.filter(event_id=event_id, succeeded_at__isnull=False)
        .select_related("campaign")
        .order_by("-succeeded_at", "-id")
        .only(
            "succeeded_at", "first_name", "last_name", "amount_minor", "net_minor", "currency",
            "refcode", "status", "created_at", "ticker_opt_in", "ticker_hidden",
            *ticker.TICKER_FIELDS, "campaign__ticker_name_min_minor",
            "campaign__ticker_profanity_filter",
        )[:limit]
    )  # fmt: skip
    return [
        StaffDonation(
            donation_id=row.pk,
            succeeded_at=row.succeeded_at or row.created_at,
            name=f"{row.first_name} {row.last_name}".strip(),
            amount_minor=row.amount_minor,
            net_minor=row.net_minor,
            currency=row.currency,
            refcode=row.refcode,
            status=row.status,
            status_label=str(DonationStatus(row.status).label),
            in_ticker=row.ticker_opt_in,
            ticker_hidden=row.ticker_hidden,
            ticker_line=_staff_ticker_line(row),
        )
        for row in rows
    ]


def event_totals(*, event_id: int) -> Tally:
    """The event's tally without the ticker: one query over its shards."""
    return _scope_tally(event_scope(event_id))


# The goal's extras, read where they are computed (donations/milestones.py, matching.py).
milestone_crossings = milestones.milestone_crossings
MilestoneCrossing = milestones.MilestoneCrossing
event_matching = matching.event_matching
match_state = matching.match_state
MatchState = matching.MatchState
EventMatching = matching.EventMatching
