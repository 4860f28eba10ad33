"""Best efforts: a gift that became itemizable without the donor's employer, occupation or
address (flagged `info_followup_due`: the wallet path, a month of a monthly gift) gets one
follow-up, within 30 days of its receipt: an email that asks only for that information, with a
signed link to a form. The answer is recorded on the request and on every gift attached to it
(their empty fields filled, never what the donor gave at the time overwritten).

The row flag is the outbox and beat's sweep does the rest, safe to run from several workers:
1. attach each paid, flagged gift to its donor's request (same campaign, same identity key or
   email): one not sent yet or sent in the last 30 days (so a later gift gets no second
   email), or one answered (the answer is copied onto the new gift at once); else a new
   request;
2. send each due request once (claimed by a conditional update; a failed send releases the
   claim), or mark it expired when its 30 days passed first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from donations.compliance.identity import donor_key
from donations.models import Donation, DonationStatus, InfoRequest
from events.money import format_money

log = logging.getLogger(__name__)

FOLLOWUP_WINDOW = timedelta(days=30)
# A flagged gift still pending this long was never paid: it needs no follow-up.
ABANDONED_AFTER = timedelta(days=1)
TOKEN_SALT = "donations.best-efforts"  # noqa: S105 -- a salt, not a secret
# The form's link works this long (the donor may answer after the 30 days of the request).
TOKEN_MAX_AGE = 180 * 24 * 3600


@dataclass(frozen=True)
class InfoAnswer:
    """What the donor gave on the follow-up form (cleaned)."""

    employer: str
    occupation: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str


ANSWER_FIELDS = tuple(f.name for f in fields(InfoAnswer))


def request_token(request_id: int) -> str:
    return signing.dumps({"q": request_id}, salt=TOKEN_SALT, compress=False)


def request_for_token(token: str) -> InfoRequest | None:
    """The request a link names; None for a link we did not sign, or too old."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("q"), int):
        return None
    return InfoRequest.objects.select_related("campaign").filter(pk=data["q"]).first()


def _fill(donation_ids: list[int], answer: dict[str, str]) -> int:
    """Fill each gift's empty fields from the answer (and its identity key, which an address
    may complete). Returns how many gifts changed."""
    changed = 0
    for donation in Donation.objects.select_for_update().filter(pk__in=donation_ids):
        updates = {
            name: value
            for name, value in answer.items()
            if value and not str(getattr(donation, name)).strip()
        }
        if not updates:
            continue
        for name, value in updates.items():
            setattr(donation, name, value)
        donation.donor_key = donor_key(donation.donor)
        donation.save(update_fields=[*updates, "donor_key", "updated_at"])
        changed += 1
    return changed


@transaction.atomic
def attach_due_gifts(*, limit: int = 500) -> int:
    """Step 1 of the sweep. Returns how many gifts it attached."""
    rows = list(
        Donation.objects.select_for_update(skip_locked=True)
        .filter(info_followup_due=True)
        .order_by("created_at")[:limit]
    )
    attached = 0
    now = timezone.now()
    for gift in rows:
        if gift.status == DonationStatus.PENDING:
            if gift.created_at < now - ABANDONED_AFTER:  # a checkout never finished
                Donation.objects.filter(pk=gift.pk).update(info_followup_due=False)
            continue  # not paid yet (a failed one is cleared below)
        if not gift.counted:
            Donation.objects.filter(pk=gift.pk).update(info_followup_due=False)
            continue
        same = Q(email=gift.email)
        if gift.donor_key:
            same |= Q(donor_key=gift.donor_key)
        request = (
            InfoRequest.objects.select_for_update()
            .filter(same, campaign_id=gift.campaign_id, expired_at=None)
            .order_by("-created_at")
            .first()
        )
        joinable = request is not None and (
            request.answered_at is not None
            or request.sent_at is None
            or now - request.sent_at <= FOLLOWUP_WINDOW
        )
        if request is None or not joinable:
            request = InfoRequest.objects.create(
                campaign_id=gift.campaign_id,
                donor_key=gift.donor_key,
                email=gift.email,
                received_at=gift.succeeded_at or now,
                due_at=now,
            )
        request.gifts.add(gift)
        if request.answered_at is not None:
            _fill([gift.pk], {name: getattr(request, name) for name in ANSWER_FIELDS})
        Donation.objects.filter(pk=gift.pk).update(info_followup_due=False)
        attached += 1
    return attached


def send_request(*, request_id: int) -> bool:
    """Send one due request's email, once; a request whose 30 days passed is marked expired
    instead. Returns whether it sent."""
    now = timezone.now()
    request = InfoRequest.objects.filter(pk=request_id, due_at__isnull=False).first()
    if request is None:
        return False
    if now - request.received_at > FOLLOWUP_WINDOW:
        InfoRequest.objects.filter(pk=request_id, sent_at=None).update(due_at=None, expired_at=now)
        log.warning("best-efforts request expired unsent info_request_id=%s", request_id)
        return False
    claimed = InfoRequest.objects.filter(pk=request_id, sent_at=None).update(
        sent_at=now, due_at=None
    )
    if not claimed:
        return False
    try:
        _message(request).send()
    except Exception:
        InfoRequest.objects.filter(pk=request_id, sent_at=now).update(sent_at=None, due_at=now)
        raise
    log.info("best-efforts request sent info_request_id=%s", request_id)
    return True


def sweep() -> int:
    """The beat task's work: attach the flagged gifts, then send what is due. Returns how
    many emails it sent."""
    attach_due_gifts()
    due = InfoRequest.objects.filter(due_at__isnull=False, due_at__lte=timezone.now())
    return sum(send_request(request_id=pk) for pk in list(due.values_list("pk", flat=True)[:200]))


def _message(request: InfoRequest) -> EmailMessage:
    campaign = request.campaign
    link = settings.SITE_URL + reverse("donations:info_request", args=[request_token(request.pk)])
    threshold = campaign.itemization_threshold or 0
    text = (
        f"Thank you for your support of {campaign.name}.\n\n"
        "Federal law requires us to use our best efforts to collect and report the name, "
        "mailing address, occupation and name of employer of individuals whose contributions "
        f"exceed {format_money(threshold, campaign.currency)} in an election cycle. We do not "
        "have all of yours: please give them on this form.\n\n"
        f"{link}\n"
    )
    if campaign.paid_for_by:
        text += f"\n{campaign.paid_for_by}\n"
    return EmailMessage(
        subject=f"{campaign.name}: your employer, occupation and address",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[request.email],
    )


@transaction.atomic
def record_answer(*, request_id: int, answer: InfoAnswer) -> int:
    """The donor's answer: stored on the request and filled into every gift attached to it.
    Returns how many gifts changed. An answer given twice keeps the first."""
    request = InfoRequest.objects.select_for_update().get(pk=request_id)
    if request.answered_at is not None:
        return 0
    values: dict[str, Any] = {name: getattr(answer, name) for name in ANSWER_FIELDS}
    for name, value in values.items():
        setattr(request, name, value)
    request.answered_at = timezone.now()
    request.due_at = None
    request.save()
    changed = _fill(list(request.gifts.values_list("pk", flat=True)), values)
    log.info("best-efforts answer info_request_id=%s gifts=%s", request_id, changed)
    return changed
