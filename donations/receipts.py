"""Receipts: one email per counted donation, at most once. The donation row is the outbox
(receipt_sent_at IS NULL): the periodic task sends what is due, and in embedded mode (no
broker) the ledger sends at once after commit (donations.ledger)."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from donations.models import Donation, Interval
from events.kinds import CampaignKind
from events.models import Campaign
from events.money import format_money

log = logging.getLogger(__name__)

# Receipts older than this are never sent late (e.g. after an outage of days).
RECEIPT_WINDOW = timedelta(days=3)


_COLOR = re.compile(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}")
NONPROFIT_STATEMENT = "No goods or services were provided in exchange for this contribution."


def _logo_url(campaign: Campaign) -> str:
    """The campaign's logo as an absolute URL ("" without one): the only image a receipt
    loads. Works whether `logo` is a file field or a URL, and before the field exists."""
    logo: Any = getattr(campaign, "logo", None)
    if not logo:
        return ""
    try:
        url = str(logo.url if hasattr(logo, "url") else logo)
    except ValueError:  # a file field with no file
        return ""
    if url.startswith("/"):
        url = settings.SITE_URL + url
    return url if url.startswith(("https://", "http://")) else ""


def _brand_color(campaign: Campaign) -> str:
    color = str(getattr(campaign, "brand_color", "") or "")
    return color if _COLOR.fullmatch(color) else "#0a3a99"


def long_date(moment: datetime) -> str:
    """ "June 3, 2026" (UTC, as stored)."""
    return f"{moment:%B} {moment.day}, {moment:%Y}"


def email_brand(campaign: Campaign | None) -> dict[str, Any]:
    """The brand every email of a campaign carries (the receipt's header and its "Paid for
    by" line); None: the neutral Pledgecast look, no disclaimer."""
    if campaign is None:
        return {"campaign": None, "logo_url": "", "brand_color": "#0a3a99", "paid_for_by": ""}
    return {
        "campaign": campaign,
        "logo_url": _logo_url(campaign),
        "brand_color": _brand_color(campaign),
        "paid_for_by": str(getattr(campaign, "paid_for_by", "") or ""),
    }


def manage_url(campaign: Campaign | None = None) -> str:
    """The donor self-service page's address (asking for a link), absolute, in the brand of
    `campaign` when given."""
    url = settings.SITE_URL + reverse("donations:manage")
    return f"{url}?{urlencode({'campaign': campaign.slug})}" if campaign is not None else url


def tax_statement(campaign: Campaign) -> str:
    """A 501(c)(3)'s acknowledgment: its legal name, its EIN and that nothing was given in
    return ("" for every other kind: political gifts are not deductible)."""
    if campaign.kind != CampaignKind.NONPROFIT:
        return ""
    ein = f" (EIN {campaign.ein})" if campaign.ein else ""
    return f"{campaign.legal_name}{ein}: {NONPROFIT_STATEMENT}"


def receipt_context(*, donation: Donation, sent_at: datetime) -> dict[str, Any]:
    """What both parts of the receipt say. The brand fields (`logo`, `brand_color`,
    `paid_for_by`) are read with getattr so that campaigns without them still get a receipt;
    a 501(c)(3) gets the tax statement (`tax_statement`)."""
    campaign = donation.campaign
    return {
        **email_brand(campaign),
        "donation": donation,
        "campaign": campaign,
        "event": donation.event,
        "amount": format_money(donation.amount_minor, donation.currency),
        "fee": format_money(donation.fee_minor, donation.currency) if donation.fee_minor else "",
        "monthly": donation.interval == Interval.MONTH,
        "date": long_date(donation.succeeded_at or sent_at),
        "reference": donation.reference,
        "tax_statement": tax_statement(campaign),
        "manage_url": manage_url(campaign),
    }


def receipt_message(*, donation: Donation, sent_at: datetime) -> EmailMultiAlternatives:
    """The receipt email: a text body and an HTML alternative (inline styles only; the only
    remote image is the campaign's logo). The donor's details are escaped in the HTML."""
    context = receipt_context(donation=donation, sent_at=sent_at)
    message = EmailMultiAlternatives(
        subject=f"Your receipt from {donation.campaign.name}",
        body=render_to_string("donations/email/receipt.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[donation.email],
    )
    html = render_to_string("donations/email/receipt.html", context)
    message.attach_alternative(html, "text/html")
    return message


def send_receipt(*, donation_id: int) -> bool:
    """Email the donor their receipt, at most once per donation: the row is claimed by a
    conditional update before sending (a crash after the claim loses the email rather than
    doubling it; a failed send releases the claim for a retry, and raises). Returns whether
    it sent."""
    now = timezone.now()
    claimed = Donation.objects.filter(pk=donation_id, receipt_sent_at=None, net_minor__gt=0).update(
        receipt_sent_at=now
    )
    if not claimed:
        return False
    donation = Donation.objects.select_related("campaign", "event").get(pk=donation_id)
    try:
        message = receipt_message(donation=donation, sent_at=now)
        message.send()
    except Exception:
        Donation.objects.filter(pk=donation_id, receipt_sent_at=now).update(receipt_sent_at=None)
        raise
    log.info("receipt sent donation_id=%s", donation_id)
    return True


def send_pending_receipts(*, limit: int = 500) -> int:
    """Send the receipts that are due (counted donations without one), oldest first; safe to
    run from several workers at once (send_receipt claims each row). Returns how many sent."""
    due = list(
        Donation.objects.filter(
            receipt_sent_at=None,
            net_minor__gt=0,
            succeeded_at__gte=timezone.now() - RECEIPT_WINDOW,
        )
        .order_by("succeeded_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(send_receipt(donation_id=pk) for pk in due)
