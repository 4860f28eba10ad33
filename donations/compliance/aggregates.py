"""A donor's totals on a campaign, per election, per cycle and per calendar year, net of
refunds and disputes, with pending gifts held at their whole amount for PENDING_HOLD (as the
per-email limit always did), and the lock that keeps them true while a gift starts.

What a gift counts for each election: its designations (donations.compliance.designation),
less what it lost to refunds and disputes, taken from the later designation first (a refund
of the excess moved to the general comes off the general). A gift of a campaign without
elections counts only toward its calendar year.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from donations.models import Donation, DonationStatus
from donations.rules import PENDING_HOLD
from events.elections import Election, gift_date


def lock_donor(*, campaign_id: int, donor_key: str, email: str) -> None:
    """Serialize everything that reads or changes one donor's totals on one campaign until
    the transaction ends: a PostgreSQL advisory lock on each of the donor's two keys (the
    identity key, the email), taken in one order so two transactions never deadlock. Two
    starts that share either key wait for each other; the second reads what the first wrote
    (READ COMMITTED: each statement sees what committed before it). SQLite serializes writers
    anyway."""
    if connection.vendor != "postgresql":
        return
    keys = [f"donor:{campaign_id}:e:{email}"]
    if donor_key:
        keys.append(f"donor:{campaign_id}:k:{donor_key}")
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_KEYS, [keys])


# One round trip; the locks in the order of their 64-bit ids (a total order, hash collisions
# included, so two transactions never wait on each other in a circle).
_LOCK_KEYS = (
    "SELECT pg_advisory_xact_lock(id) FROM "
    "(SELECT DISTINCT hashtextextended(k, 0) AS id FROM unnest(%s::text[]) AS k ORDER BY 1) AS l"
)


@dataclass(frozen=True)
class DonorTotals:
    """Minor units per election id, per cycle (its even year) and per calendar year."""

    per_election: dict[int, int] = field(default_factory=dict)
    per_cycle: dict[int, int] = field(default_factory=dict)
    per_year: dict[int, int] = field(default_factory=dict)

    def election(self, election_id: int) -> int:
        return self.per_election.get(election_id, 0)

    def cycle(self, cycle: int) -> int:
        return self.per_cycle.get(cycle, 0)

    def year(self, year: int) -> int:
        return self.per_year.get(year, 0)


def counted_parts(
    *,
    election_id: int | None,
    election_minor: int,
    split_election_id: int | None,
    split_minor: int,
    amount_minor: int,
    counted_minor: int,
) -> list[tuple[int | None, int]]:
    """What a gift counts for each of its designations when `counted_minor` of its
    `amount_minor` counts: the loss comes off the split (later) part first. Sums to
    `counted_minor` exactly. A gift without designations is one part for None."""
    if election_id is None:
        return [(None, counted_minor)]
    lost = amount_minor - counted_minor
    split_kept = max(0, split_minor - lost)
    first_kept = election_minor - max(0, lost - split_minor)
    parts: list[tuple[int | None, int]] = [(election_id, first_kept)]
    if split_election_id is not None:
        parts.append((split_election_id, split_kept))
    return parts


def donor_gifts(*, campaign_id: int, donor_key: str, email: str) -> Q:
    """The campaign's gifts of the donor: the same identity key or the same email."""
    same = Q(email=email)
    if donor_key:
        same |= Q(donor_key=donor_key)
    return Q(campaign_id=campaign_id) & same


def donor_totals(
    *, campaign_id: int, donor_key: str, email: str, now: datetime | None = None
) -> DonorTotals:
    """The donor's totals on the campaign (one indexed query, and one for the campaign's
    cycles when their gifts have designations). Take lock_donor first for a decision that
    must hold until commit."""
    now = now or timezone.now()
    rows = Donation.objects.filter(
        donor_gifts(campaign_id=campaign_id, donor_key=donor_key, email=email)
        & (
            Q(net_minor__gt=0)
            | Q(status=DonationStatus.PENDING, created_at__gte=now - PENDING_HOLD)
        )
    ).values_list(
        "election_id",
        "election_minor",
        "split_election_id",
        "split_minor",
        "amount_minor",
        "net_minor",
        "status",
        "created_at",
    )
    per_election: dict[int, int] = defaultdict(int)
    per_year: dict[int, int] = defaultdict(int)
    for election_id, first, split_id, split, amount, net, status, created in rows:
        counted = amount if status == DonationStatus.PENDING else net
        per_year[gift_date(created).year] += counted
        for part_election, minor in counted_parts(
            election_id=election_id,
            election_minor=first,
            split_election_id=split_id,
            split_minor=split,
            amount_minor=amount,
            counted_minor=counted,
        ):
            if part_election is not None:
                per_election[part_election] += minor
    per_cycle: dict[int, int] = defaultdict(int)
    if per_election:
        cycles = dict(Election.objects.filter(pk__in=list(per_election)).values_list("pk", "cycle"))
        for election_id, minor in per_election.items():
            per_cycle[cycles[election_id]] += minor
    return DonorTotals(
        per_election=dict(per_election), per_cycle=dict(per_cycle), per_year=dict(per_year)
    )
