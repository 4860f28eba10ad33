"""The work of a monthly gift stopped at the limit (donations.compliance.monthly decides it):
cancel the subscription with the provider, then tell the donor and the campaign's owners and
treasurers, each step once. Run by the task enqueued on commit and by beat's sweep while the
stop is due;
each email is claimed by a conditional update (a crash after the claim loses that email
rather than doubling it; a failed send releases the claim). A gift that ended meanwhile is not
cancelled again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from donations.models import MonthlyGift, MonthlyGiftStatus, MonthlyGiftStop
from donations.providers import get_provider
from donations.providers.base import PaymentProvider, ProviderError
from donations.providers.simulated import SimulatedProvider
from events.models import Membership, Role
from events.money import format_money

log = logging.getLogger(__name__)


def _money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency, grouped=True)


# A stop whose provider keeps failing is retried by the sweep this many times.
MAX_ATTEMPTS = 20


def _provider_of(gift: MonthlyGift) -> PaymentProvider:
    if gift.provider == SimulatedProvider.name:
        return SimulatedProvider()
    provider = get_provider()
    if provider is None or provider.name != gift.provider:
        raise ProviderError(f"The payment provider {gift.provider!r} is not configured.")
    return provider


def run_stop(*, stop_id: int) -> bool:
    """Do what is left of a stop: cancel the subscription (unless the gift has ended), then
    tell the donor, then the campaign's owners and treasurers; each once. Returns whether it
    is all done. Raises ProviderError when the provider refuses (the sweep retries it)."""
    # Counted apart from the transaction below, which a refusal rolls back.
    MonthlyGiftStop.objects.filter(pk=stop_id, cancelled_at=None).update(attempts=F("attempts") + 1)
    with transaction.atomic():
        stop = (
            MonthlyGiftStop.objects.select_for_update(skip_locked=True)
            .select_related("monthly_gift")
            .filter(pk=stop_id, cancelled_at=None)
            .first()
        )
        if stop is not None:
            gift = stop.monthly_gift
            if gift.status != MonthlyGiftStatus.ENDED:
                _provider_of(gift).cancel_subscription(
                    subscription_id=gift.subscription_id,
                    idempotency_key=f"pc-limit-stop-{stop.pk}",
                )
            now = timezone.now()
            # Ended is final whatever the provider's subscription event says later.
            MonthlyGift.objects.filter(pk=gift.pk).exclude(status=MonthlyGiftStatus.ENDED).update(
                status=MonthlyGiftStatus.ENDED, ended_at=now
            )
            MonthlyGiftStop.objects.filter(pk=stop.pk).update(cancelled_at=now)
            log.info("monthly gift cancelled at the limit monthly_gift_id=%s", gift.pk)
    stop = MonthlyGiftStop.objects.select_related(
        "monthly_gift__campaign", "monthly_gift__first_donation", "election"
    ).get(pk=stop_id)
    if stop.cancelled_at is None:
        return False
    _send_once(stop, "donor_told_at", _donor_message)
    _send_once(stop, "staff_told_at", _staff_message)
    return bool(
        MonthlyGiftStop.objects.filter(
            pk=stop_id, donor_told_at__isnull=False, staff_told_at__isnull=False
        ).update(due_at=None)
    )


def run_due_stops(*, limit: int = 100) -> int:
    """The sweep: run every stop still due (a failed provider call, a lost task). Returns
    how many finished."""
    due = MonthlyGiftStop.objects.filter(
        due_at__isnull=False, due_at__lte=timezone.now(), attempts__lt=MAX_ATTEMPTS
    ).values_list("pk", flat=True)[:limit]
    done = 0
    for stop_id in list(due):
        try:
            done += run_stop(stop_id=stop_id)
        except ProviderError:
            log.warning("monthly gift stop failed stop_id=%s", stop_id)
            MonthlyGiftStop.objects.filter(pk=stop_id).update(
                due_at=timezone.now() + timedelta(minutes=5)
            )
    return done


def _send_once(
    stop: MonthlyGiftStop, field: str, build: Callable[[MonthlyGiftStop], EmailMessage | None]
) -> None:
    claimed_at = timezone.now()
    claimed = MonthlyGiftStop.objects.filter(pk=stop.pk, **{field: None}).update(
        **{field: claimed_at}
    )
    if not claimed:
        return
    try:
        message = build(stop)
        if message is not None:
            message.send()
    except Exception:
        MonthlyGiftStop.objects.filter(pk=stop.pk, **{field: claimed_at}).update(**{field: None})
        raise


def _donor_message(stop: MonthlyGiftStop) -> EmailMessage:
    gift = stop.monthly_gift
    campaign = gift.campaign
    first = gift.first_donation
    money = gift.currency
    text = (
        f"Thank you for giving {_money(gift.amount_minor, money)} each month to "
        f"{campaign.legal_name}.\n\n"
        f"Your next monthly gift would take your contributions for {stop.limit_words} "
        f"past the legal limit of {_money(stop.limit_minor, money)} per "
        f"{'election' if stop.election is not None else 'calendar year'}, so we "
        "have stopped your monthly gift: you will not be charged again. The gifts you have "
        "made are unchanged.\n\n"
        f"Receipt reference of your first monthly gift: {first.reference}\n"
    )
    if campaign.paid_for_by:
        text += f"\n{campaign.paid_for_by}\n"
    return EmailMessage(
        subject=f"Your monthly gift to {campaign.name} has stopped",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[first.email],
    )


def _staff_message(stop: MonthlyGiftStop) -> EmailMessage | None:
    gift = stop.monthly_gift
    campaign = gift.campaign
    owners = sorted(
        set(
            Membership.objects.filter(campaign=campaign, role__in=[Role.OWNER, Role.TREASURER])
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    if not owners:
        log.warning("monthly gift stopped with nobody to tell campaign_id=%s", campaign.pk)
        return None
    money = gift.currency
    text = (
        f"Monthly gift {gift.pk} to {campaign.name} (first gift "
        f"{gift.first_donation.reference}) has stopped: its next month of "
        f"{_money(gift.amount_minor, money)} would take the donor past the limit of "
        f"{_money(stop.limit_minor, money)} for {stop.limit_words}. The "
        "subscription was cancelled with the payment provider and the donor was told.\n"
    )
    if stop.excess_minor and stop.election_id is not None:
        text += (
            f"\nThe month just paid took the donor {_money(stop.excess_minor, money)} "
            "past the limit of its own election: refund or redesignate the excess within 60 "
            "days of its receipt.\n"
        )
    elif stop.excess_minor:
        text += (
            f"\nThe gifts of this year took the donor {_money(stop.excess_minor, money)} "
            "past the limit per calendar year: refund the excess within 60 days of its "
            "receipt.\n"
        )
    text += (
        f"\n{settings.SITE_URL}{reverse('admin:donations_monthlygift_change', args=[gift.pk])}\n"
    )
    return EmailMessage(
        subject=f"{campaign.name}: a monthly gift stopped at the contribution limit",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=owners,
    )
