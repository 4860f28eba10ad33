"""Monthly gifts and the limits: when a month is paid, the gift stops if its next month would
take the donor past the limit of the election that month is for, or past the campaign's limit
per calendar year in that month's year.

The decision is written in the transaction that applies the paid invoice (a MonthlyGiftStop
row: the outbox); donations.compliance.stops does the work after commit (the subscription
cancelled with the provider, the donor and the campaign's owners emailed)."""

from __future__ import annotations

import calendar
import logging
from datetime import date
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from donations.compliance.aggregates import donor_totals, lock_donor
from donations.compliance.tasks import run_monthly_stop
from donations.models import Donation, MonthlyGift, MonthlyGiftStatus, MonthlyGiftStop
from events.elections import gift_date, next_election

log = logging.getLogger(__name__)


def one_month_after(day: date) -> date:
    """The same day next month (the month's last day when it has no such day)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def watch_next_month(*, installment: Donation) -> MonthlyGiftStop | None:
    """After a month of a monthly gift was paid (in the transaction that applied it): stop
    the gift when its next month would pass the limit of the election it would be for, or
    the campaign's limit per calendar year in its year.
    Returns the stop decided now (None: the gift goes on, or was stopped before). Takes the
    donor's lock (donations.compliance.aggregates) until the transaction ends."""
    if installment.monthly_gift_id is None:
        return None
    gift = (
        MonthlyGift.objects.select_related("campaign")
        .filter(pk=installment.monthly_gift_id)
        .first()
    )
    if gift is None or gift.status == MonthlyGiftStatus.ENDED:
        return None
    campaign = gift.campaign
    if campaign.election_limit is None and campaign.year_limit is None:
        return None
    month = one_month_after(gift_date())
    following = next_election(campaign_id=gift.campaign_id, on=month)
    if following is None and campaign.year_limit is None:
        return None
    lock_donor(
        campaign_id=gift.campaign_id, donor_key=installment.donor_key, email=installment.email
    )
    totals = donor_totals(
        campaign_id=gift.campaign_id, donor_key=installment.donor_key, email=installment.email
    )
    over: dict[str, Any] | None = None
    limit = campaign.election_limit
    if limit is not None and following is not None:
        room = limit - totals.election(following.pk)
        if gift.amount_minor > room:
            excess = 0
            if installment.election_id is not None:
                excess = max(0, totals.election(installment.election_id) - limit)
            over = {"election": following, "limit_minor": limit, "room_minor": room}
            over["excess_minor"] = excess
    year_limit = campaign.year_limit
    if over is None and year_limit is not None:
        room = year_limit - totals.year(month.year)
        if gift.amount_minor > room:
            this_year = gift_date(installment.created_at).year
            excess = max(0, totals.year(this_year) - year_limit)
            over = {"year": month.year, "limit_minor": year_limit, "room_minor": room}
            over["excess_minor"] = excess
    if over is None:
        return None
    stop, created = MonthlyGiftStop.objects.get_or_create(
        monthly_gift=gift,
        defaults={"installment": installment, "due_at": timezone.now(), **over},
    )
    if not created:
        return None
    log.info("monthly gift stopping at the limit monthly_gift_id=%s", gift.pk)
    # Robust: a broker (or, in embedded mode, the provider) failing after commit must not
    # fail the webhook that was applied; the sweep runs the stop later.
    transaction.on_commit(partial(run_monthly_stop.delay, stop.pk), robust=True)
    return stop
