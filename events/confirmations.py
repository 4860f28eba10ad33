"""Sending an attendee's registration confirmation. The registration row is the outbox
(`confirmation_due_at` is set): `events.services.register_attendee` marks it due in the
registration's transaction and enqueues the task on commit as the fast path; the periodic
`send_pending_confirmations` sends whatever is still due, so a broker outage delays a
confirmation and never loses it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from events import registration
from events.models import EventStatus, Registration

log = logging.getLogger(__name__)

# A confirmation goes out at most this often per registration, however often the attendee
# registers again (their lost email comes back; a stranger typing it cannot flood the inbox).
REGISTRATION_RESEND_INTERVAL = timedelta(minutes=5)


def _resend_allowed(now: datetime) -> Q:
    resend_before = now - REGISTRATION_RESEND_INTERVAL
    return Q(confirmation_sent_at=None) | Q(confirmation_sent_at__lte=resend_before)


def _claimable(now: datetime) -> Q:
    return Q(confirmation_due_at__isnull=False) & _resend_allowed(now)


def request_confirmation_resend(*, registration_id: int) -> bool:
    """An attendee registered again: mark their confirmation due, in the caller's transaction,
    unless one is already due or one went out in the last REGISTRATION_RESEND_INTERVAL.
    Returns whether it marked it."""
    now = timezone.now()
    marked = Registration.objects.filter(
        _resend_allowed(now), pk=registration_id, confirmation_due_at=None
    ).update(confirmation_due_at=now)
    return bool(marked)


def send_registration_confirmation(*, registration_id: int) -> bool:
    """Email the confirmation (text, HTML and the .ics) if it is due, unless one went out in
    the last REGISTRATION_RESEND_INTERVAL or the event is over (then it is no longer due).

    The row is claimed by a conditional update (compare-and-set on the values just read:
    confirmation_sent_at becomes now, confirmation_due_at none) before sending, so concurrent
    workers send once; no transaction or lock is held while mailing. A failed send puts both
    values back (it stays due for a retry) and raises. A crash between the claim and the send
    loses that email rather than doubling it. Returns whether it sent."""
    now = timezone.now()
    found = (
        Registration.objects.filter(_claimable(now), pk=registration_id)
        .values_list("confirmation_sent_at", "confirmation_due_at")
        .first()
    )
    if found is None:
        return False
    previous_sent, previous_due = found
    claimed = Registration.objects.filter(
        pk=registration_id, confirmation_sent_at=previous_sent, confirmation_due_at=previous_due
    ).update(confirmation_sent_at=now, confirmation_due_at=None)
    if not claimed:  # another worker claimed it between the read and the update
        return False
    attendee = Registration.objects.select_related("event__campaign").get(pk=registration_id)
    if attendee.event.status not in (EventStatus.SCHEDULED, EventStatus.LIVE):
        # Never sent, and no longer due: the periodic sender forgets it.
        Registration.objects.filter(pk=registration_id, confirmation_sent_at=now).update(
            confirmation_sent_at=previous_sent
        )
        return False
    try:
        registration.confirmation_email(attendee).send()
    except Exception:
        Registration.objects.filter(pk=registration_id, confirmation_sent_at=now).update(
            confirmation_sent_at=previous_sent, confirmation_due_at=previous_due
        )
        raise
    log.info("registration confirmation sent", extra={"registration_id": registration_id})
    return True


def send_pending_confirmations(*, limit: int = 500) -> int:
    """Send the confirmations that are due, oldest first; safe to run from several workers at
    once (send_registration_confirmation claims each row). A failed send is logged (by id and
    error type: no address) and stays due for the next run; the others still go. Returns how
    many it sent."""
    due = list(
        Registration.objects.filter(_claimable(timezone.now()))
        .order_by("confirmation_due_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for registration_id in due:
        try:
            sent += send_registration_confirmation(registration_id=registration_id)
        except Exception as exc:
            log.warning(
                "registration confirmation failed, still due",
                extra={"registration_id": registration_id, "error": type(exc).__name__},
            )
    return sent
