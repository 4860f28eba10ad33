"""The ledger by the moment of the show: what the tally read, bucket by bucket, for the
replay's moments (the replay's EXT-X-DATERANGE entries, put together by `liveroom`).

The same truth as the tally (`selectors.ledger_tally`): a gift counts its `net_minor`
(charged minus refunds and disputes) when that is above zero, at the moment it succeeded (when
the tally moved), so a refund lowers the moment its gift was given in, and a gift refunded in
full leaves it. Donors are distinct by email, counted from their first counted gift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Count, Min, Sum

from donations.models import Donation


@dataclass(frozen=True)
class GiftMoment:
    start: datetime  # aware, UTC; the bucket is [start, start + bucket_seconds)
    raised_minor: int  # given in the bucket
    gifts: int  # gifts in the bucket
    total_minor: int  # the tally at the bucket's end (all counted gifts up to then)
    total_gifts: int
    donors: int  # distinct donors up to the bucket's end


@dataclass(frozen=True)
class GiftMoments:
    bucket_seconds: int
    before_minor: int  # the tally at `start`
    before_gifts: int
    before_donors: int
    moments: list[GiftMoment]  # oldest first; buckets without gifts left out


def event_gift_moments(
    *, event_id: int, start: datetime, end: datetime, bucket_seconds: int
) -> GiftMoments:
    """The event's counted gifts up to `end`: the tally at `start`, then per bucket of
    `bucket_seconds` aligned on the epoch (so a bucket keeps its start whatever `start` is).
    Three queries: the sum before `start`, each donor's first counted gift, the gifts
    between `start` and `end`."""
    if bucket_seconds < 1:
        raise ValueError("bucket_seconds must be at least 1")
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
    rows = (
        counted.filter(succeeded_at__gte=start)
        .order_by("succeeded_at", "id")
        .values_list("succeeded_at", "net_minor")
    )
    total, total_gifts = int(before["raised"]), int(before["gifts"])
    buckets: dict[int, list[int]] = {}  # bucket number → [raised, gifts]
    for succeeded_at, net in rows:
        if succeeded_at is None:  # filtered out above; for the type checker
            continue
        bucket = buckets.setdefault(int(succeeded_at.timestamp()) // bucket_seconds, [0, 0])
        bucket[0] += int(net)
        bucket[1] += 1
    moments = []
    donors = before_donors
    for number, (raised, gifts) in sorted(buckets.items()):
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
            )
        )  # fmt: skip
    return GiftMoments(
        bucket_seconds=bucket_seconds,
        before_minor=int(before["raised"]),
        before_gifts=int(before["gifts"]),
        before_donors=before_donors,
        moments=moments,
    )
