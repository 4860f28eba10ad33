"""The ledger on the event report's timeline (liveroom/report.py): counted money and donors per
minute, in the windows after the show's moments, and per ask. The same truth as the tally: a
gift counts its `net_minor` (charged minus refunds and disputes) when that is above zero, at
the minute its payment succeeded; donors are distinct emails, as the tally counts them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Aggregate, Count, Q, Sum
from django.db.models.functions import TruncMinute

from donations.models import Donation


@dataclass(frozen=True)
class MinuteMoney:
    minute: int  # minutes since the epoch, UTC
    raised_minor: int
    donations: int
    donors: int


def _counted(event_id: int) -> Q:
    return Q(event_id=event_id, net_minor__gt=0, succeeded_at__isnull=False)


def event_money_per_minute(
    *, event_id: int, start: datetime, end: datetime
) -> dict[int, MinuteMoney]:
    """Counted money, gifts and distinct donors per minute of [start, end), minutes without a
    gift left out. One aggregate query (GROUP BY the minute, in SQL)."""
    rows = (
        Donation.objects.filter(_counted(event_id), succeeded_at__gte=start, succeeded_at__lt=end)
        .annotate(at_minute=TruncMinute("succeeded_at", tzinfo=UTC))
        .values("at_minute")
        .annotate(raised=Sum("net_minor"), count=Count("id"), donors=Count("email", distinct=True))
        .values_list("at_minute", "raised", "count", "donors")
    )
    found = {}
    for at, raised, count, donors in rows:
        minute = int(at.timestamp() // 60)
        found[minute] = MinuteMoney(
            minute=minute, raised_minor=int(raised), donations=int(count), donors=int(donors)
        )
    return found


@dataclass(frozen=True)
class WindowMoney:
    raised_minor: int
    donations: int
    donors: int


# Windows per query: each is three aggregate columns.
_WINDOWS_PER_QUERY = 100


def event_money_in_windows(
    *, event_id: int, windows: Sequence[tuple[datetime, datetime]]
) -> list[WindowMoney]:
    """For each window [start, end), in order: the counted money, gifts and distinct donors of
    the gifts whose payment succeeded in it (windows may overlap). One aggregate query per
    hundred windows."""
    answers: list[WindowMoney] = []
    for first in range(0, len(windows), _WINDOWS_PER_QUERY):
        chunk = windows[first : first + _WINDOWS_PER_QUERY]
        columns: dict[str, Aggregate] = {}
        for n, (start, end) in enumerate(chunk):
            inside = Q(succeeded_at__gte=start, succeeded_at__lt=end)
            columns[f"r{n}"] = Sum("net_minor", filter=inside, default=0)
            columns[f"c{n}"] = Count("id", filter=inside)
            columns[f"d{n}"] = Count("email", filter=inside, distinct=True)
        row = Donation.objects.filter(_counted(event_id)).aggregate(**columns)
        answers.extend(
            WindowMoney(
                raised_minor=int(row[f"r{n}"]),
                donations=int(row[f"c{n}"]),
                donors=int(row[f"d{n}"]),
            )
            for n in range(len(chunk))
        )
    return answers


@dataclass(frozen=True)
class AskTotal:
    tag: str
    raised_minor: int
    donations: int


def event_top_ask_tags(*, event_id: int, limit: int) -> list[AskTotal]:
    """The staff asks' tags (`Donation.ask_tag`) that raised the most counted money, most
    first (ties by gifts, then tag); gifts without a tag left out. One aggregate query."""
    rows = (
        Donation.objects.filter(_counted(event_id))
        .exclude(ask_tag="")
        .values("ask_tag")
        .annotate(raised=Sum("net_minor"), count=Count("id"))
        .order_by("-raised", "-count", "ask_tag")
        .values_list("ask_tag", "raised", "count")[:limit]
    )
    return [AskTotal(tag=t, raised_minor=int(r), donations=int(c)) for t, r, c in rows]
