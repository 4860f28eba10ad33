"""The emails of the capacity notices (events/capacity.py): each sent once to the campaign's
owners and managers, claimed by a conditional update before sending (a failed send releases
the claim for the next run; a crash after the claim loses that email rather than doubling
it)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone

from events.models import CapacityNotice, CapacityNoticeKind, Membership, Role
from events.money import format_money

log = logging.getLogger(__name__)


def _message(notice: CapacityNotice, recipients: list[str]) -> EmailMessage:
    event = notice.event
    dashboard = f"{settings.SITE_URL}{reverse('liveroom:dashboard', args=[event.pk])}"
    tier = notice.tier
    if notice.kind == CapacityNoticeKind.UPGRADED:
        who = (
            "by itself (its pre-authorised upgrade)"
            if notice.by_user is None
            else f"by {notice.by_user.get_username()}"
        )
        source = notice.from_tier
        subject = f"{event.title}: moved to {tier.name} ({tier.max_attendees:,} attendees)"
        body = (
            f"{event.title} was moved {who} from {source.name if source else 'its tier'} to "
            f"{tier.name}: up to {tier.max_attendees:,} attendees at once. Attendees waiting "
            "for a seat are let in now."
        )
        if tier.price_minor is not None:
            body += f" The tier's price: {format_money(tier.price_minor, tier.price_currency)}."
    else:
        subject = f"{event.title}: {notice.kind}% full ({notice.viewers:,} watching)"
        body = (
            f"{notice.viewers:,} attendees are watching {event.title}: {notice.kind}% of its "
            f"{tier.name} tier ({tier.max_attendees:,} at once). Beyond it attendees are turned "
            "away until a seat frees up. An owner can move the event to a larger tier from the "
            "live dashboard in one click."
        )
    return EmailMessage(
        subject=subject,
        body=f"{body}\n\n{dashboard}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )


def send_due_notices(*, limit: int = 100) -> int:
    """Email each due notice once to its campaign's owners and managers. Returns how many
    were sent."""
    sent = 0
    for notice_id in (
        CapacityNotice.objects.filter(mail_due=True)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    ):
        now = timezone.now()
        claimed = CapacityNotice.objects.filter(pk=notice_id, mail_due=True).update(
            mail_due=False, mailed_at=now
        )
        if not claimed:
            continue
        notice = CapacityNotice.objects.select_related("event", "tier", "from_tier", "by_user").get(
            pk=notice_id
        )
        recipients = sorted(
            set(
                Membership.objects.filter(
                    campaign_id=notice.event.campaign_id, role__in=[Role.OWNER, Role.MANAGER]
                )
                .exclude(user__email="")
                .values_list("user__email", flat=True)
            )
        )
        if not recipients:
            continue
        try:
            _message(notice, recipients).send()
        except Exception:
            log.exception("capacity notice not sent", extra={"notice_id": notice_id})
            CapacityNotice.objects.filter(pk=notice_id).update(mail_due=True, mailed_at=None)
            continue
        sent += 1
    return sent
