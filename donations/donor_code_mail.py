"""Emailing returning donors' one-time codes. The DonorCode row is the outbox (`requested_at`
without `sent_at` is due): donations.donor_codes marks it due and enqueues the task on commit
as the fast path; the periodic `send_pending_donor_codes` sends whatever is still due, so a
broker outage delays a code and never loses it.

The code is made when it is sent, only its keyed hash is stored, and it is emailed only to an
address with a saved card. Every address that asks gets a row, a code and the same answers
(what a later try of a code says included), so nothing but the email itself tells whether an
address has a saved card.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import salted_hmac

from donations import saved_donors
from donations.models import DonorCode

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5


def code_hash(*, code_id: int, code: str) -> str:
    """The stored form of a code: keyed with SECRET_KEY (a copy of the table alone cannot be
    tried against the million codes) and salted with the row."""
    return salted_hmac("donations.donor-code", f"{code_id}:{code}", algorithm="sha256").hexdigest()


def donor_code_message(*, email: str, code: str) -> EmailMessage:
    context = {"code": code, "minutes": int(CODE_TTL.total_seconds() // 60)}
    return EmailMessage(
        subject=f"Your code to give with your saved card: {code}",
        body=render_to_string("donations/email/donor_code.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email],
    )


def send_donor_code(*, code_id: int) -> bool:
    """Make a due row's code, store its hash (it then lasts CODE_TTL) and email it if the
    address has a saved card. The row is claimed by a conditional update (compare-and-set on
    the request's time) before mailing, so concurrent workers send once and a newer request
    is never answered with an older code; no transaction or lock is held while mailing. A
    failed send releases the claim (a retry makes a new code) and raises. A request older
    than CODE_TTL is no longer due. Returns whether it emailed a code."""
    now = timezone.now()
    found = (
        DonorCode.objects.filter(pk=code_id, sent_at=None, requested_at__gte=now - CODE_TTL)
        .values_list("requested_at", "email")
        .first()
    )
    if found is None:
        return False
    requested_at, email = found
    code = f"{secrets.randbelow(1_000_000):06d}"
    claimed = DonorCode.objects.filter(pk=code_id, sent_at=None, requested_at=requested_at).update(
        sent_at=now,
        code_hash=code_hash(code_id=code_id, code=code),
        expires_at=now + CODE_TTL,
    )
    if not claimed or not saved_donors.has_saved_card(email=email):
        return False  # without a saved card: a code like any other, that nobody receives
    try:
        donor_code_message(email=email, code=code).send()
    except Exception:
        DonorCode.objects.filter(pk=code_id, sent_at=now).update(
            sent_at=None, code_hash="", expires_at=None
        )
        raise
    log.info("donor code sent", extra={"donor_code_id": code_id})
    return True


def send_pending_donor_codes(*, limit: int = 500) -> int:
    """Send the codes that are due, oldest first; safe to run from several workers at once
    (send_donor_code claims each row). A failed send is logged (by id and error type: no
    address) and stays due; the others still go. Returns how many it emailed."""
    due = list(
        DonorCode.objects.filter(sent_at=None, requested_at__gte=timezone.now() - CODE_TTL)
        .order_by("requested_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for code_id in due:
        try:
            sent += send_donor_code(code_id=code_id)
        except Exception as exc:
            log.warning(
                "donor code not sent, still due",
                extra={"donor_code_id": code_id, "error": type(exc).__name__},
            )
    return sent
