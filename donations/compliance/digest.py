"""The treasurers' daily mail of overdue queue items, through an outbox row.

Beat runs `mail_digests` every hour: it writes one TreasurerDigest row per campaign with
overdue items and day (unique: a second run the same day adds nothing), then sends every
unsent row, each claimed by a conditional update, to the campaign's treasurers and owners. A
failed send releases the claim and the next run retries it; a broker outage only delays the
rows (they are written and sent by the next run that gets through). The day is the UTC date.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from donations.compliance.queue import ACTING_ROLES
from donations.models import ComplianceItem, TreasurerDigest
from events.models import Campaign, Membership

log = logging.getLogger(__name__)


def queue_digests(*, now: datetime | None = None) -> int:
    """Write today's digest rows for the campaigns with overdue open items. Returns how many
    rows were new."""
    now = now or timezone.now()
    overdue = (
        ComplianceItem.objects.filter(resolved_at=None, due_at__lte=now)
        .values("campaign_id")
        .annotate(n=Count("pk"))
    )
    rows = [
        TreasurerDigest(campaign_id=row["campaign_id"], day=now.date(), items=row["n"])
        for row in overdue
    ]
    before = TreasurerDigest.objects.filter(day=now.date()).count()
    TreasurerDigest.objects.bulk_create(rows, ignore_conflicts=True)
    return TreasurerDigest.objects.filter(day=now.date()).count() - before


def send_due_digests(*, now: datetime | None = None) -> int:
    """Send each unsent digest once; returns how many were sent."""
    sent = 0
    for digest_id in TreasurerDigest.objects.filter(sent_at=None).values_list("pk", flat=True):
        at = now or timezone.now()
        if not TreasurerDigest.objects.filter(pk=digest_id, sent_at=None).update(sent_at=at):
            continue  # another worker has it
        digest = TreasurerDigest.objects.select_related("campaign").get(pk=digest_id)
        message = _message(digest.campaign, now=at)
        if message is None:
            continue
        try:
            message.send()
        except Exception:
            log.exception("treasurer digest failed digest_id=%s", digest_id)
            TreasurerDigest.objects.filter(pk=digest_id).update(sent_at=None)
            continue
        sent += 1
    return sent


def mail_digests() -> int:
    queue_digests()
    return send_due_digests()


def _message(campaign: Campaign, *, now: datetime) -> EmailMessage | None:
    to = sorted(
        set(
            Membership.objects.filter(campaign=campaign, role__in=ACTING_ROLES)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    items = list(
        ComplianceItem.objects.filter(
            campaign=campaign, resolved_at=None, due_at__lte=now
        ).order_by("due_at", "pk")
    )
    if not to or not items:
        log.warning("treasurer digest with no one to tell campaign_id=%s", campaign.pk)
        return None
    lines = [
        f"- {item.get_kind_display()} {item.pk}, due {item.due_at:%Y-%m-%d}: "
        f"{settings.SITE_URL}{reverse('admin:donations_complianceitem_change', args=[item.pk])}"
        for item in items
    ]
    body = (
        f"{len(items)} item(s) of {campaign.name}'s compliance queue are overdue:\n\n"
        + "\n".join(lines)
        + "\n"
    )
    return EmailMessage(
        subject=f"{campaign.name}: {len(items)} overdue compliance item(s)",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
