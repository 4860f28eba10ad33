"""A donor's changes to their own monthly gift: the amount, a pause, a resume, the end. Each
goes through the provider (Stripe's API, or the simulated provider), under an idempotency key
naming the gift, our change counter and the change, and the gift's row is then brought up to
the provider's answer by donations.monthly_state (the webhooks that follow converge on the
same state, whatever their order). A refusal changes nothing, here or at the provider."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction

from donations.forms import MAX_AMOUNT_MINOR
from donations.models import GiftChangeSource, MonthlyGift, MonthlyGiftStatus
from donations.monthly_state import apply_subscription_state
from donations.payments import with_backoff
from donations.providers import get_provider
from donations.providers.base import (
    MonthlyPrice,
    PaymentProvider,
    ProviderError,
    ProviderRateLimited,
    SubscriptionUpdate,
)
from donations.providers.stripe_events import SubscriptionChange
from donations.selfservice import selectors
from donations.subscriptions import ensure_product
from events import ratelimits
from events.money import format_money

log = logging.getLogger(__name__)

RATE_WINDOW_S = 3600


class GiftChangeRefused(Exception):
    """A change we refuse: `message` for the donor, `status` for HTTP, `field` the form field
    it is about ("" for none), `retry_after` for a 429."""

    def __init__(
        self, message: str, *, status: int = 400, field: str = "", retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
        self.retry_after = retry_after


NOT_FOUND = "This monthly gift is not one of yours."


def check_amount(*, gift: MonthlyGift, amount_minor: int) -> None:
    """The campaign's bounds on one gift (as donations.rules puts them on a new donation)."""
    campaign = gift.campaign
    if amount_minor < campaign.min_donation_minor:
        raise GiftChangeRefused(
            f"The minimum gift is {format_money(campaign.min_donation_minor, gift.currency)}.",
            field="amount",
        )
    highest = min(campaign.max_donation_minor or MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR)
    if amount_minor > highest:
        raise GiftChangeRefused(
            f"The maximum gift is {format_money(highest, gift.currency)}.", field="amount"
        )


def _lock_gift(gift_id: int) -> None:
    """Serialize one gift's changes by its donor until the transaction ends (PostgreSQL
    advisory lock; the webhooks do not take it, so they never wait on a provider call)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"gift:{gift_id}"])


def _check_rate(email: str) -> None:
    wait = ratelimits.hit(
        scope="donations:manage:changes",
        subject=email,
        limit=settings.MANAGE_CHANGES_PER_DONOR,
        window_s=RATE_WINDOW_S,
    )
    if wait is not None:
        raise GiftChangeRefused(
            "You have made many changes in the last hour. Please wait a while and try again.",
            status=429,
            retry_after=wait,
        )


def _running(gift: MonthlyGift) -> bool:
    return gift.status == MonthlyGiftStatus.ACTIVE


Call = Callable[[PaymentProvider, MonthlyGift, int], SubscriptionChange]


def _change(
    *,
    email: str,
    gift_id: int,
    done: Callable[[MonthlyGift], bool],
    check: Callable[[MonthlyGift], None] = lambda gift: None,
    call: Call,
) -> MonthlyGift:
    """The shared path of every change: the donor's own running gift only (another donor's
    or an unknown id: 404), `check`, then the provider's `call` (given the next change
    counter) and the row from its answer. A gift `done` already is answered as it is (a
    double click, an old tab). Holds the gift's advisory lock throughout, so the donor's
    changes of one gift happen one at a time."""
    provider = get_provider()
    if provider is None:
        raise GiftChangeRefused("Changes are not possible right now.", status=503)
    with transaction.atomic():
        _lock_gift(gift_id)
        gift = selectors.access_donor_monthly_gift(email=email, gift_id=gift_id)
        if gift is None:
            raise GiftChangeRefused(NOT_FOUND, status=404)
        if done(gift):
            return gift
        if gift.status == MonthlyGiftStatus.ENDED:
            raise GiftChangeRefused(
                "This monthly gift has ended: nothing more is charged.", status=409
            )
        if gift.status != MonthlyGiftStatus.ACTIVE:
            raise GiftChangeRefused("This monthly gift has not started yet.", status=409)
        check(gift)
        if gift.provider != provider.name:
            raise GiftChangeRefused(
                "This monthly gift cannot be changed here right now. Please contact the campaign.",
                status=409,
            )
        _check_rate(email)
        try:
            answer = with_backoff(
                lambda: call(provider, gift, gift.state_version + 1),
                donation_id=gift.first_donation_id,
            )
        except ProviderRateLimited:
            raise GiftChangeRefused(
                "Our payment processor is very busy right now. Please try again in a minute.",
                status=503,
            ) from None
        except ProviderError:
            log.exception("monthly gift change failed monthly_gift_id=%s", gift.pk)
            raise GiftChangeRefused(
                "We could not reach our payment processor. Nothing was changed; please try "
                "again in a minute.",
                status=503,
            ) from None
        updated = apply_subscription_state(change=answer, answered_to=GiftChangeSource.DONOR)
    if updated is None:  # the provider answered about another subscription
        raise GiftChangeRefused(NOT_FOUND, status=404)
    return updated


def change_monthly_amount(*, email: str, gift_id: int, amount_minor: int) -> MonthlyGift:
    """Charge `amount_minor` each month from the next month on (the campaign's minimum and
    maximum apply)."""

    def call(provider: PaymentProvider, gift: MonthlyGift, version: int) -> SubscriptionChange:
        product_id = ensure_product(
            provider=provider, event=gift.event, donation_id=gift.first_donation_id
        )
        return provider.update_subscription(
            SubscriptionUpdate(
                subscription_id=gift.subscription_id,
                idempotency_key=f"pc-gift-{gift.pk}-v{version}-amount-{amount_minor}",
                version=version,
                price=MonthlyPrice(
                    product_id=product_id, amount_minor=amount_minor, currency=gift.currency
                ),
            )
        )

    return _change(
        email=email,
        gift_id=gift_id,
        done=lambda gift: _running(gift) and gift.amount_minor == amount_minor,
        check=lambda gift: check_amount(gift=gift, amount_minor=amount_minor),
        call=call,
    )


def set_monthly_paused(*, email: str, gift_id: int, paused: bool) -> MonthlyGift:
    """Pause the gift's collection (Stripe voids the months' invoices while it is paused) or
    resume it."""

    def call(provider: PaymentProvider, gift: MonthlyGift, version: int) -> SubscriptionChange:
        action = "pause" if paused else "resume"
        return provider.update_subscription(
            SubscriptionUpdate(
                subscription_id=gift.subscription_id,
                idempotency_key=f"pc-gift-{gift.pk}-v{version}-{action}",
                version=version,
                paused=paused,
            )
        )

    return _change(
        email=email,
        gift_id=gift_id,
        done=lambda gift: _running(gift) and gift.paused == paused,
        call=call,
    )


def cancel_monthly_gift(*, email: str, gift_id: int) -> MonthlyGift:
    """End the gift now: nothing more is charged. Its past months stay given."""

    def call(provider: PaymentProvider, gift: MonthlyGift, version: int) -> SubscriptionChange:
        return provider.cancel_subscription(
            subscription_id=gift.subscription_id, idempotency_key=f"pc-gift-{gift.pk}-cancel"
        )

    return _change(
        email=email,
        gift_id=gift_id,
        done=lambda gift: gift.status == MonthlyGiftStatus.ENDED,
        call=call,
    )
