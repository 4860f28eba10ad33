"""Receipts: one email per counted donation, at most once. The donation row is the outbox
(receipt_sent_at IS NULL): the periodic task sends what is due, and in embedded mode (no
broker) the ledger sends at once after commit (donations.ledger)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from donations.models import Donation
from events.money import format_money

log = logging.getLogger(__name__)

# Receipts older than this are never sent late (e.g. after an outage of days).
RECEIPT_WINDOW = timedelta(days=3)


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
    body = (
        f"Thank you for your donation of {format_money(donation.amount_minor, donation.currency)} "
        f"to {donation.campaign.legal_name}, during “{donation.event.title}”.\n\n"
        f"Donation reference: {donation.pk}\nDate: {donation.succeeded_at or now:%Y-%m-%d} UTC\n"
    )
    if donation.fee_minor:
        body += f"Including {format_money(donation.fee_minor, donation.currency)} to cover fees.\n"
    if donation.campaign.paid_for_by:
        body += f"\n{donation.campaign.paid_for_by}\n"  # a political committee's disclaimer
    try:
        send_mail(
            subject=f"Your receipt from {donation.campaign.name}",
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[donation.email],
        )
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
