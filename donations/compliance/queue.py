"""The treasurer's queue: compliance items with their legal clocks, found by a sweep of the
ledger (beat, every few minutes), and the actions treasurers take on them, each written to the
append-only audit trail.

Items come from a sweep, not from hooks in checkout and the webhooks: a cause is a state of the
ledger (a gift past the limit after a refund was reversed or the limit lowered, an unanswered
information request, a refund, a dispute), and one reader of that state finds every path that
leads to it, the ones added later included. One item per cause: the unique constraints on
(kind, gift) and (kind, information request) make a second sweep, or two at once, a no-op.

Clocks (from the gift's receipt, or the information request's first gift):
- excessive contribution (past a limit per election, or per calendar year where the campaign
  has one): 60 days to refund the excess or redesignate it with notice (redesignation only
  within a cycle's elections);
- questionable contribution (a foreign address with a US passport attestation, or a possible
  prohibited source: a donor name that reads as a company's or a union's, ORG_NAME): 30 days;
- missing information (best efforts): 30 days; the item closes when the donor answers;
- large gifts, refunds and disputes: review only, no clock.

Who acts: the campaign's owners and treasurers (and superusers); managers and viewers see the
queue, and their actions are refused (ActionRefused), nothing changed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from donations.compliance.aggregates import counted_parts
from donations.models import (
    ComplianceAction,
    ComplianceItem,
    Donation,
    InfoRequest,
    ItemKind,
)
from events.elections import Election, gift_date
from events.kinds import CampaignKind
from events.models import Campaign, Membership, Role

log = logging.getLogger(__name__)

CLOCKS: dict[str, timedelta | None] = {
    ItemKind.EXCESSIVE: timedelta(days=60),
    ItemKind.QUESTIONABLE: timedelta(days=30),
    ItemKind.MISSING_INFO: timedelta(days=30),
    ItemKind.LARGE: None,
    ItemKind.REFUND: None,
    ItemKind.DISPUTE: None,
}
ACTING_ROLES = (Role.OWNER, Role.TREASURER)
# Gifts from this much are large (a campaign's empty `large_gift_minor`).
LARGE_GIFT_MINOR = 100_000


# A donor name that ends like an organization's ("Acme Inc.", "Teamsters Local 42"): corporations
# and unions may not give to a federal committee, so such a gift is questionable until a
# treasurer looks. A regular expression both PostgreSQL and SQLite (Python's re) read alike.
ORG_NAME = (
    r"(^|\s)(inc|incorporated|llc|l\.l\.c|corp|corporation|company|co|ltd|llp|plc|pac|"
    r"union|local [0-9]+)\.?$"
)


class ActionRefused(Exception):
    """A queue action that cannot be taken; the message says why, nothing was changed."""


@dataclass(frozen=True)
class Clock:
    due_at: datetime | None
    days_left: int | None
    overdue: bool


def clock(item: ComplianceItem, *, now: datetime | None = None) -> Clock:
    """The item's clock: due date, whole days left (negative when overdue); no clock for a
    review-only kind, and none running once the item is resolved."""
    if item.due_at is None:
        return Clock(due_at=None, days_left=None, overdue=False)
    now = now or timezone.now()
    days_left = (item.due_at.date() - now.date()).days
    return Clock(
        due_at=item.due_at,
        days_left=days_left,
        overdue=item.resolved_at is None and item.due_at <= now,
    )


def _new(
    *, kind: str, campaign_id: int, opened_at: datetime, amount_minor: int, **cause: object
) -> ComplianceItem:
    span = CLOCKS[kind]
    return ComplianceItem(
        kind=kind,
        campaign_id=campaign_id,
        opened_at=opened_at,
        due_at=opened_at + span if span is not None else None,
        amount_minor=amount_minor,
        **cause,
    )


def _has_item(kind: str) -> Exists:
    return Exists(ComplianceItem.objects.filter(kind=kind, donation_id=OuterRef("pk")))


def _gift_items() -> list[ComplianceItem]:
    paid = Donation.objects.filter(succeeded_seen=True).exclude(succeeded_at=None)
    found: list[ComplianceItem] = []
    rules = (
        (
            ItemKind.LARGE,
            Q(amount_minor__gte=Coalesce(F("campaign__large_gift_minor"), LARGE_GIFT_MINOR)),
            "amount_minor",
        ),
        (ItemKind.REFUND, Q(refunded_minor__gt=0), "refunded_minor"),
        (ItemKind.DISPUTE, ~Q(dispute_id=""), "disputed_minor"),
        (
            ItemKind.QUESTIONABLE,
            ~Q(country__in=["", "US"])
            | Q(last_name__iregex=ORG_NAME)
            | Q(first_name__iregex=ORG_NAME),
            "amount_minor",
        ),
    )
    for kind, cause, amount_field in rules:
        rows = (
            paid.filter(cause)
            .exclude(_has_item(kind))
            .values_list("pk", "campaign_id", "succeeded_at", amount_field)
        )
        found += [
            _new(
                kind=kind,
                campaign_id=campaign_id,
                opened_at=received,
                amount_minor=amount,
                donation_id=pk,
            )
            for pk, campaign_id, received, amount in rows
        ]
    return found


class _DonorSums:
    """Per group (campaign, donor, and an election or a year): what the donor's paid gifts
    count, and the latest of them (by payment time, then id): the one an excess came with."""

    def __init__(self) -> None:
        self.totals: dict[tuple[int, str, int], int] = defaultdict(int)
        self.latest: dict[tuple[int, str, int], tuple[datetime | None, int]] = {}

    def add(self, group: tuple[int, str, int], minor: int, at: datetime | None, pk: int) -> None:
        self.totals[group] += minor
        if group not in self.latest or (at, pk) > self.latest[group]:
            self.latest[group] = (at, pk)

    def past(
        self, limits: Mapping[int, int | None]
    ) -> Iterator[tuple[int, tuple[int, str, int], int]]:
        """(latest gift id, group, excess) of each group past its campaign's limit."""
        for group, total in sorted(self.totals.items()):
            limit = limits.get(group[0])
            if limit is not None and total > limit:
                yield self.latest[group][1], group, total - limit


def excess_by_gift(*, campaign_id: int | None = None) -> dict[int, tuple[int, int]]:
    """The gifts that took a donor past an election's limit: {gift id: (election id,
    excess)}. A donor is the identity key (gifts without one: their email); what counts is
    the paid gifts' net (refunds off, a reversed refund back on), per election, as checkout
    counts it. The gift named is the donor's latest in that election: the one the excess came
    with."""
    gifts = Donation.objects.filter(
        net_minor__gt=0, succeeded_seen=True, succeeded_at__isnull=False
    ).exclude(election=None)
    if campaign_id is not None:
        gifts = gifts.filter(campaign_id=campaign_id)
    sums = _DonorSums()
    rows = gifts.values_list(
        "pk",
        "campaign_id",
        "donor_key",
        "email",
        "election_id",
        "election_minor",
        "split_election_id",
        "split_minor",
        "amount_minor",
        "net_minor",
        "succeeded_at",
    )
    for pk, cid, key, email, eid, first, split_id, split, amount, net, at in rows.iterator():
        who = key or email.lower()
        for part_election, minor in counted_parts(
            election_id=eid,
            election_minor=first,
            split_election_id=split_id,
            split_minor=split,
            amount_minor=amount,
            counted_minor=net,
        ):
            if part_election is not None and minor > 0:
                sums.add((cid, who, part_election), minor, at, pk)
    campaigns = Campaign.objects.filter(pk__in={group[0] for group in sums.totals})
    limits = {campaign.pk: campaign.election_limit for campaign in campaigns}
    excess: dict[int, tuple[int, int]] = {}
    for gift, group, over in sums.past(limits):
        excess.setdefault(gift, (group[2], over))
    return excess


def excess_by_year(*, campaign_id: int | None = None) -> dict[int, tuple[None, int]]:
    """The gifts that took a donor past their campaign's limit per calendar year (a PAC's):
    {gift id: (None, excess)}, counted as excess_by_gift counts elections (the paid gifts'
    net, by identity key or email, per the year of the gift's date); the gift named is the
    donor's latest of that year."""
    campaigns = Campaign.objects.filter(
        Q(year_limit_minor__isnull=False) | Q(kind=CampaignKind.PAC)
    )
    if campaign_id is not None:
        campaigns = campaigns.filter(pk=campaign_id)
    limits = {c.pk: c.year_limit for c in campaigns if c.year_limit is not None}
    if not limits:
        return {}
    rows = Donation.objects.filter(
        campaign_id__in=list(limits), net_minor__gt=0, succeeded_seen=True
    ).exclude(succeeded_at=None)
    sums = _DonorSums()
    for pk, cid, key, email, net, created, at in rows.values_list(
        "pk", "campaign_id", "donor_key", "email", "net_minor", "created_at", "succeeded_at"
    ).iterator():
        sums.add((cid, key or email.lower(), gift_date(created).year), net, at, pk)
    excess: dict[int, tuple[None, int]] = {}
    for gift, _, over in sums.past(limits):
        excess.setdefault(gift, (None, over))
    return excess


def sweep(*, now: datetime | None = None) -> int:
    """Open the items the ledger shows; close the missing-information ones the donor
    answered and the excessive ones no longer past the limit. Returns how many items were
    opened. Safe to run from several workers at once (one item per cause by the unique
    constraints; rows a treasurer holds are skipped)."""
    now = now or timezone.now()
    found = _gift_items()
    excess: dict[int, tuple[int | None, int]] = dict(excess_by_year())
    excess.update(excess_by_gift())  # a gift past both: the election's item
    if excess:
        known = set(
            ComplianceItem.objects.filter(
                kind=ItemKind.EXCESSIVE, donation_id__in=list(excess)
            ).values_list("donation_id", flat=True)
        )
        for gift in Donation.objects.filter(pk__in=set(excess) - known).only(
            "pk", "campaign_id", "succeeded_at"
        ):
            assert gift.succeeded_at is not None  # noqa: S101 -- paid gifts only, above
            found.append(
                _new(
                    kind=ItemKind.EXCESSIVE,
                    campaign_id=gift.campaign_id,
                    opened_at=gift.succeeded_at,
                    amount_minor=excess[gift.pk][1],
                    donation_id=gift.pk,
                    election_id=excess[gift.pk][0],
                )
            )
    has_item = ComplianceItem.objects.filter(
        kind=ItemKind.MISSING_INFO, info_request_id=OuterRef("pk")
    )
    requests = InfoRequest.objects.filter(answered_at=None).exclude(Exists(has_item))
    found += [
        _new(
            kind=ItemKind.MISSING_INFO,
            campaign_id=request.campaign_id,
            opened_at=request.received_at,
            amount_minor=0,
            info_request_id=request.pk,
        )
        for request in requests.only("pk", "campaign_id", "received_at")
    ]
    created = ComplianceItem.objects.bulk_create(found, ignore_conflicts=True)
    with transaction.atomic():
        answered = list(
            ComplianceItem.objects.select_for_update(skip_locked=True).filter(
                kind=ItemKind.MISSING_INFO,
                resolved_at=None,
                info_request__answered_at__isnull=False,
            )
        )
        for item in answered:
            item.resolved_at = now
            item.save(update_fields=["resolved_at"])
            ComplianceAction.objects.create(item=item, what="answered", note="The donor answered.")
        # An excess gone another way (the gift refunded from the ledger's own action, a
        # dispute lost) closes its item; one a treasurer holds (locked) waits for next time.
        settled = list(
            ComplianceItem.objects.select_for_update(skip_locked=True)
            .filter(kind=ItemKind.EXCESSIVE, resolved_at=None)
            .exclude(donation_id__in=list(excess))
        )
        for item in settled:
            item.resolved_at = now
            item.save(update_fields=["resolved_at"])
            ComplianceAction.objects.create(
                item=item, what="settled", note="No longer past the limit on the ledger."
            )
    closed = len(answered) + len(settled)
    log.info("compliance sweep opened=%s closed=%s", len(created), closed)
    return len(created)


def check_may_act(*, user_id: int, is_superuser: bool, campaign_id: int) -> None:
    """Raises ActionRefused unless the user is a superuser or an owner or treasurer of the
    campaign."""
    if is_superuser:
        return
    if not Membership.objects.filter(
        user_id=user_id, campaign_id=campaign_id, role__in=ACTING_ROLES
    ).exists():
        raise ActionRefused("Only the campaign's owners and treasurers act on the queue.")


def later_election(gift: Donation) -> Election | None:
    """The next election of the gift's cycle after its own, where an excess may go."""
    if gift.election is None:
        return None
    return (
        Election.objects.filter(
            campaign_id=gift.campaign_id,
            cycle=gift.election.cycle,
            date__gt=gift.election.date,
        )
        .order_by("date", "pk")
        .first()
    )
