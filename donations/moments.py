"""The ledger by the moment of the show: what the tally and the ticker read, bucket by bucket,
for the replay's moments (the replay's EXT-X-DATERANGE entries, put together by `liveroom`).

The same truth as the tally (`selectors.ledger_tally`): a gift counts its `net_minor`
(charged minus refunds and disputes) when that is above zero, at the moment it succeeded (when
the tally moved), so a refund lowers the moment its gift was given in, and a gift refunded in
full leaves it. Donors are distinct by email, counted from their first counted gift. Ticker
lines are the live ticker's (`ticker.line_of`, the campaign's rules, lines staff hid left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Count, Min, Sum

from donations import ticker
from donations.models import Donation
from events.models import Event

TICKER_LINES = 5  # as many as the live ticker shows


@dataclass(frozen=True)
class TickerLine:
    name: str
    amount_minor: int | None  # None when the donor hid the amount
    message: str


@dataclass(frozen=True)
class GiftMoment:
    start: datetime  # aware, UTC; the bucket is [start, start + bucket_seconds)
    raised_minor: int  # given in the bucket
    gifts: int  # gifts in the bucket
    total_minor: int  # the tally at the bucket's end (all counted gifts up to then)
    total_gifts: int
    donors: int  # distinct donors up to the bucket's end
    ticker: tuple[TickerLine, ...] = ()  # the bucket's newest lines, newest first


@dataclass(frozen=True)
class GiftMoments:
    bucket_seconds: int
    before_minor: int  # the tally at `start`
    before_gifts: int
    before_donors: int
    moments: list[GiftMoment]  # oldest first; buckets without gifts left out
    before_ticker: tuple[TickerLine, ...] = ()  # the ticker at `start`, newest first


def _line(row: Donation, rules: ticker.TickerRules) -> TickerLine:
    text = ticker.line_of(row, rules)
    amount = None if row.hide_amount else row.net_minor
    return TickerLine(name=text.name, amount_minor=amount, message=text.message)


def _shows_in_ticker(row: Donation) -> bool:
    return row.ticker_opt_in and not row.ticker_hidden


def event_gift_moments(
    *, event_id: int, start: datetime, end: datetime, bucket_seconds: int
) -> GiftMoments:
    """The event's counted gifts up to `end`: the tally and ticker at `start`, then per bucket
    of `bucket_seconds` aligned on the epoch (so a bucket keeps its start whatever `start`
    is). Five queries: the campaign's ticker rules, the sum before `start`, each donor's first
    counted gift, the ticker before `start`, the gifts between `start` and `end`."""
    if bucket_seconds < 1:
        raise ValueError("bucket_seconds must be at least 1")
    rules = ticker.TickerRules.of(
        Event.objects.select_related("campaign").get(pk=event_id).campaign
    )
    counted = Donation.objects.filter(
        event_id=event_id, net_minor__gt=0, succeeded_at__isnull=False, succeeded_at__lt=end
    )
    before = counted.filter(succeeded_at__lt=start).aggregate(
        raised=Sum("net_minor", default=0), gifts=Count("id")
    )
    firsts = sorted(
        counted.values("email").annotate(first=Min("succeeded_at")).values_list("first", flat=True)
    )
    before_donors = sum(1 for first in firsts if first < start)
    fields = (*ticker.TICKER_FIELDS, "net_minor", "succeeded_at", "ticker_opt_in", "ticker_hidden")
    before_ticker = (
        counted.filter(succeeded_at__lt=start, ticker_opt_in=True, ticker_hidden=False)
        .order_by("-succeeded_at", "-id")
        .only(*fields)[:TICKER_LINES]
    )
    rows = counted.filter(succeeded_at__gte=start).order_by("succeeded_at", "id").only(*fields)
    total, total_gifts = int(before["raised"]), int(before["gifts"])
    # Per bucket: raised, gifts, and its newest ticker rows (only those are masked: the
    # profanity filter costs milliseconds a line).
    buckets: dict[int, tuple[int, int, list[Donation]]] = {}
    for row in rows:
        if row.succeeded_at is None:  # filtered out above; for the type checker
            continue
        number = int(row.succeeded_at.timestamp()) // bucket_seconds
        raised, gifts, shown = buckets.get(number, (0, 0, []))
        if _shows_in_ticker(row):
            shown = [*shown[-(TICKER_LINES - 1) :], row]
        buckets[number] = (raised + row.net_minor, gifts + 1, shown)
    moments = []
    donors = before_donors
    for number, (raised, gifts, shown) in sorted(buckets.items()):
        bucket_start = datetime.fromtimestamp(number * bucket_seconds, tz=UTC)
        bucket_end = datetime.fromtimestamp((number + 1) * bucket_seconds, tz=UTC)
        total += raised
        total_gifts += gifts
        while donors < len(firsts) and firsts[donors] < bucket_end:
            donors += 1
        moments.append(
            GiftMoment(
                start=bucket_start, raised_minor=raised, gifts=gifts, total_minor=total,
                total_gifts=total_gifts, donors=donors,
                ticker=tuple(_line(row, rules) for row in reversed(shown)),
            )
        )  # fmt: skip
    return GiftMoments(
        bucket_seconds=bucket_seconds,
        before_minor=int(before["raised"]),
        before_gifts=int(before["gifts"]),
        before_donors=before_donors,
        moments=moments,
        before_ticker=tuple(_line(row, rules) for row in before_ticker),
    )
