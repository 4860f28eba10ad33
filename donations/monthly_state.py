"""A monthly gift's state from the provider: whether it runs (status), whether its collection
is paused, and what it charges. Two kinds of news carry it, in any order: the answers of our own
calls (donations.selfservice.services) and the subscription's webhooks
(donations.webhooks.monthly). Whatever the order, the newest state wins:

- status only moves forward (incomplete → active → ended; ended is final);
- pause and amount follow the newest news, ordered by (our change counter, Stripe's event
  time). Each change we make counts `state_version` up and puts it in the subscription's
  metadata, so news older than our last change (a smaller counter) is ignored; among the news
  of one counter (our change's own webhook, then changes made in Stripe's dashboard or by its
  own rules) the later event wins, and an event of the same second as the one applied wins too
  (Stripe's times are whole seconds: two changes within one second are ordered by arrival).
  An API answer carries no event time: it wins only with a counter greater than the row's.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from donations.models import (
    MONTHLY_STATUS_RANK,
    GiftChangeSource,
    MonthlyGift,
    MonthlyGiftChange,
    MonthlyGiftStatus,
)
from donations.providers.stripe_events import SubscriptionChange
from events.money import format_money

log = logging.getLogger(__name__)


def set_gift_status(
    *, subscription_id: str, status: MonthlyGiftStatus, ended: datetime | None = None
) -> bool:
    """Move a monthly gift forward (incomplete → active → ended; ended is final), whatever the
    order the news came in. Locks the gift's row until the caller's transaction ends. Returns
    whether it changed."""
    gift = MonthlyGift.objects.select_for_update().filter(subscription_id=subscription_id).first()
    if gift is None:
        return False
    return _move_status(gift, status, ended)


def _move_status(gift: MonthlyGift, status: MonthlyGiftStatus, ended: datetime | None) -> bool:
    current = MonthlyGiftStatus(gift.status)
    if MONTHLY_STATUS_RANK[status] <= MONTHLY_STATUS_RANK[current]:
        return False
    gift.status = status
    if status == MonthlyGiftStatus.ENDED:
        gift.ended_at = ended or timezone.now()
    gift.save(update_fields=["status", "ended_at"])
    log.info("monthly gift status monthly_gift_id=%s status=%s", gift.pk, status)
    return True


def _is_newer(change: SubscriptionChange, gift: MonthlyGift) -> bool:
    """Whether the news is newer than what the row holds about pause and amount (see the
    module docstring)."""
    if change.version != gift.state_version:
        return change.version > gift.state_version
    if change.changed_at is None:
        return False
    return gift.state_at is None or change.changed_at >= gift.state_at


def apply_subscription_state(
    *, change: SubscriptionChange, answered_to: GiftChangeSource | None = None
) -> MonthlyGift | None:
    """Bring the gift of `change.subscription_id` up to the news where it is newer, and record
    each change for staff (MonthlyGiftChange). `answered_to`: the news is the API's answer to
    a change this source asked for; None for a webhook, whose changes are the donor's when
    they carry a new change counter (only our own changes count it up) and the provider's
    otherwise (so an end whose webhook beats our cancel's answer is recorded as the
    provider's). Locks the gift's row until the caller's transaction ends. Returns the gift
    (None when no gift has this subscription)."""
    gift = (
        MonthlyGift.objects.select_for_update()
        .filter(subscription_id=change.subscription_id)
        .first()
    )
    if gift is None:
        return None
    if answered_to is not None:
        source = answered_to
    elif change.version > gift.state_version:
        source = GiftChangeSource.DONOR
    else:
        source = GiftChangeSource.PROVIDER
    was_ended = gift.status == MonthlyGiftStatus.ENDED
    if change.gift_status is not None:
        _move_status(gift, MonthlyGiftStatus(change.gift_status), change.ended_at)
    notes = []
    if gift.status == MonthlyGiftStatus.ENDED:
        if not was_ended:
            notes.append("Ended")
    elif _is_newer(change, gift):
        if change.paused is not None and change.paused != gift.paused:
            gift.paused = change.paused
            notes.append("Paused" if change.paused else "Resumed")
        if (
            change.amount_minor is not None
            and change.amount_minor > 0
            and change.currency == gift.currency
            and change.amount_minor != gift.amount_minor
        ):
            notes.append(
                f"Amount changed from {format_money(gift.amount_minor, gift.currency)} "
                f"to {format_money(change.amount_minor, gift.currency)} a month"
            )
            gift.amount_minor = change.amount_minor
        gift.state_version = change.version
        gift.state_at = change.changed_at
        gift.save(update_fields=["paused", "amount_minor", "state_version", "state_at"])
    for what in notes:
        MonthlyGiftChange.objects.create(monthly_gift=gift, source=source, what=what)
        log.info(
            "monthly gift changed monthly_gift_id=%s change=%s source=%s",
            gift.pk,
            what.split()[0].lower(),
            source,
        )
    return gift
