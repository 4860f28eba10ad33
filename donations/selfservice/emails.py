"""The self-service link's email, text and HTML, in the brand of the campaign the donor came
from (donations.receipts.email_brand). The link row is the outbox (`email_sent_at` IS NULL):
the on-commit task sends it at once, the periodic task whatever a broker outage left, and a
link that expired unsent is never sent."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from donations.models import ManageLink
from donations.receipts import email_brand
from donations.selfservice import selectors, tokens

log = logging.getLogger(__name__)


def link_url(link: ManageLink) -> str:
    path = reverse("donations:manage_link", args=[tokens.token_for(link.salt)])
    return settings.SITE_URL + path


def link_message(link: ManageLink) -> EmailMultiAlternatives:
    """The email: the link, how long it works, and what to do if the donor did not ask."""
    campaign = selectors.brand_campaign(email=link.email, campaign=link.campaign)
    context = {
        **email_brand(campaign),
        "url": link_url(link),
        "minutes": settings.MANAGE_LINK_MINUTES,
    }
    message = EmailMultiAlternatives(
        subject=f"Your link to manage your gifts{f' to {campaign.name}' if campaign else ''}",
        body=render_to_string("donations/email/manage_link.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[link.email],
    )
    message.attach_alternative(
        render_to_string("donations/email/manage_link.html", context), "text/html"
    )
    return message


def send_link_email(*, link_id: int) -> bool:
    """Email the link if it is due and has not expired, at most once: the row is claimed by a
    conditional update before sending (a crash after the claim loses the email rather than
    doubling it; a failed send releases the claim for a retry, and raises). Returns whether
    it sent."""
    now = timezone.now()
    claimed = ManageLink.objects.filter(
        pk=link_id, email_sent_at=None, used_at=None, expires_at__gt=now
    ).update(email_sent_at=now)
    if not claimed:
        return False
    link = ManageLink.objects.select_related("campaign").get(pk=link_id)
    try:
        link_message(link).send()
    except Exception:
        ManageLink.objects.filter(pk=link_id, email_sent_at=now).update(email_sent_at=None)
        raise
    log.info("manage link sent manage_link_id=%s", link_id)
    return True


def send_pending_link_emails(*, limit: int = 500) -> int:
    """Send the link emails still due (not expired), oldest first; safe to run from several
    workers at once. A failed send is logged (by id and error type) and stays due. Returns how
    many it sent."""
    due = list(
        ManageLink.objects.filter(email_sent_at=None, expires_at__gt=timezone.now())
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for link_id in due:
        try:
            sent += send_link_email(link_id=link_id)
        except Exception as exc:
            log.warning(
                "manage link email failed, still due manage_link_id=%s error=%s",
                link_id,
                type(exc).__name__,
            )
    return sent
