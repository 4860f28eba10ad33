"""Sponsors' match offers: staff's checks and changes, and what a match adds, computed from the
ledger every time it is read, never stored and never a donation.

An offer matches `ratio` times every counted gift of its event (net of refunds and disputes:
`net_minor`) whose payment (`succeeded_at`) falls in [starts_at, ends_at), up to its cap:
matched = min(cap, ratio x sum). Per gift (the export), the cap goes to the gifts in the order
they were paid; the per-gift amounts add up to the offer's matched amount. A refund lowers its
gift's net, so the matched amount (and a later gift's share of the cap) follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from donations.goal_models import MatchOffer, MatchRatio
from donations.models import Donation
from events import livebus
from events.models import Campaign, Event
from events.money import format_money

MAX_SPONSOR = 100


@dataclass(frozen=True)
class MatchState:
    offer_id: int
    sponsor: str
    ratio: int  # 1 (1:1) or 2 (2:1)
    cap_minor: int
    matched_minor: int  # min(cap, ratio x the window's counted gifts, net)
    starts_at: datetime
    ends_at: datetime

    @property
    def left_minor(self) -> int:
        return self.cap_minor - self.matched_minor

    def is_open(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True)
class EventMatching:
    matched_minor: int  # every offer's matched amount, added
    current: MatchState | None  # the open offer, else the next one, else the last one
    offers: list[MatchState]  # by start


def _windowed(offer: MatchOffer) -> Q:
    return Q(succeeded_at__gte=offer.starts_at, succeeded_at__lt=offer.ends_at)


def event_matching(*, event_id: int, now: datetime | None = None) -> EventMatching:
    """The event's offers with their matched amounts: one query, and one more (an indexed
    aggregate over the windows) when the event has any."""
    offers = list(MatchOffer.objects.filter(event_id=event_id).order_by("starts_at", "id"))
    if not offers:
        return EventMatching(matched_minor=0, current=None, offers=[])
    sums = Donation.objects.filter(event_id=event_id, net_minor__gt=0).aggregate(
        **{f"o{o.pk}": Sum("net_minor", filter=_windowed(o)) for o in offers}
    )
    states = [
        MatchState(
            offer_id=o.pk,
            sponsor=o.sponsor,
            ratio=o.ratio,
            cap_minor=o.cap_minor,
            matched_minor=min(o.cap_minor, o.ratio * (sums[f"o{o.pk}"] or 0)),
            starts_at=o.starts_at,
            ends_at=o.ends_at,
        )
        for o in offers
    ]
    now = now or timezone.now()
    current = next((s for s in states if s.ends_at > now), states[-1])
    return EventMatching(
        matched_minor=sum(s.matched_minor for s in states), current=current, offers=states
    )


def match_state(*, event_id: int, now: datetime | None = None) -> MatchState | None:
    """The event's match to show: the open offer, else the next, else the last; None without
    offers."""
    return event_matching(event_id=event_id, now=now).current


def campaign_gift_matches(*, campaign: Campaign) -> dict[int, int]:
    """{donation id: matched minor units} for every gift of the campaign some offer matches
    (the export's column): the cap shared out in the order the gifts were paid."""
    matched: dict[int, int] = {}
    for offer in MatchOffer.objects.filter(event__campaign=campaign).order_by("starts_at", "id"):
        left = offer.cap_minor
        gifts = (
            Donation.objects.filter(_windowed(offer), event_id=offer.event_id, net_minor__gt=0)
            .order_by("succeeded_at", "id")
            .values_list("pk", "net_minor")
        )
        for pk, net in gifts.iterator(chunk_size=2000):
            if left <= 0:
                break
            share = min(left, offer.ratio * net)
            matched[pk] = matched.get(pk, 0) + share
            left -= share
    return matched


@dataclass(frozen=True)
class MatchTerms:
    sponsor: str
    ratio: int
    cap_minor: int | None
    starts_at: datetime | None
    ends_at: datetime | None


def check_match_offer(*, event_id: int, terms: MatchTerms, offer_id: int | None = None) -> str:
    """Raise ValidationError (sentences for staff, keyed by field) unless the terms make an
    offer: a sponsor's name, a ratio of 1:1 or 2:1, a positive cap, an end after the start, and
    a window that overlaps none of the event's other offers. Returns the sponsor's name
    trimmed. One query."""
    errors: dict[str, str] = {}
    sponsor = " ".join(terms.sponsor.split())
    if not sponsor:
        errors["sponsor"] = "Name the sponsor: the banner says who doubles the gifts."
    elif len(sponsor) > MAX_SPONSOR:
        errors["sponsor"] = f"A sponsor's name has at most {MAX_SPONSOR} characters."
    if terms.ratio not in MatchRatio.values:
        errors["ratio"] = "A match is 1:1 (every gift doubled) or 2:1 (every gift tripled)."
    if terms.cap_minor is None or terms.cap_minor <= 0:
        errors["cap_minor"] = "The cap is the most the sponsor gives: a positive amount."
    if terms.starts_at is None or terms.ends_at is None:
        errors["ends_at"] = "Give the match's start and end."
    elif terms.ends_at <= terms.starts_at:
        errors["ends_at"] = "The match must end after it starts."
    if errors or terms.starts_at is None or terms.ends_at is None:
        raise ValidationError(errors)
    other = (
        MatchOffer.objects.filter(
            event_id=event_id, starts_at__lt=terms.ends_at, ends_at__gt=terms.starts_at
        )
        .exclude(pk=offer_id or 0)
        .select_related("event__campaign")
        .first()
    )
    if other is not None:
        cap = format_money(other.cap_minor, other.event.campaign.currency, grouped=True)
        raise ValidationError(
            {
                "starts_at": f"This overlaps {other.sponsor}'s {cap} match: one match at a "
                "time (end one before the other starts)."
            }
        )
    return sponsor


@transaction.atomic
def save_match_offer(
    *, event_id: int, terms: MatchTerms, offer_id: int | None = None
) -> MatchOffer:
    """Add an offer (or change one) after check_match_offer, under the event's row lock (two
    overlapping offers saved at once: the second is refused). The live room hears of it on
    commit. Raises ValidationError."""
    Event.objects.select_for_update(no_key=True).filter(pk=event_id).get()
    sponsor = check_match_offer(event_id=event_id, terms=terms, offer_id=offer_id)
    offer = (
        MatchOffer(event_id=event_id)
        if offer_id is None
        else MatchOffer.objects.get(pk=offer_id, event_id=event_id)
    )
    offer.sponsor, offer.ratio = sponsor, terms.ratio
    offer.cap_minor = terms.cap_minor
    offer.starts_at, offer.ends_at = terms.starts_at, terms.ends_at  # type: ignore[assignment]
    offer.save()
    _tell_live_room(event_id)
    return offer


@transaction.atomic
def remove_match_offer(*, offer_id: int) -> None:
    offer = MatchOffer.objects.filter(pk=offer_id).first()
    if offer is not None:
        offer.delete()
        _tell_live_room(offer.event_id)


def _tell_live_room(event_id: int) -> None:
    transaction.on_commit(partial(livebus.publish_change, event_id=event_id, kind="tally"))
