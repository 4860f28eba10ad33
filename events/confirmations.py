"""Sending an attendee's registration confirmation: the Celery task's service (the task
retries it; `events.services.register_attendee` enqueues the task on commit)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from events import registration
from events.models import EventStatus, Registration

log = logging.getLogger(__name__)

# A confirmation goes out at most this often per registration, however often the attendee
# registers again (their lost email comes back; a stranger typing it cannot flood the inbox).
REGISTRATION_RESEND_INTERVAL = timedelta(minutes=5)


def send_registration_confirmation(*, registration_id: int) -> bool:
    """Email the confirmation (text, HTML and the .ics) unless one went out in the last
    REGISTRATION_RESEND_INTERVAL or the event is over. The row is claimed by a conditional
    update of confirmation_sent_at before sending, so concurrent workers send once; a failed
    send puts the old value back for a retry. Returns whether it sent."""
    now = timezone.now()
    resend_before = now - REGISTRATION_RESEND_INTERVAL
    due = Q(confirmation_sent_at=None) | Q(confirmation_sent_at__lte=resend_before)
    previous = (
        Registration.objects.filter(due, pk=registration_id)
        .values_list("confirmation_sent_at", flat=True)
        .first()
    )
    claimed = Registration.objects.filter(due, pk=registration_id).update(confirmation_sent_at=now)
    if not claimed:
        return False
    attendee = Registration.objects.select_related("event__campaign").get(pk=registration_id)
    if attendee.event.status not in (EventStatus.SCHEDULED, EventStatus.LIVE):
        Registration.objects.filter(pk=registration_id, confirmation_sent_at=now).update(
            confirmation_sent_at=previous
        )
        return False
    try:
        registration.confirmation_email(attendee).send()
    except Exception:
        Registration.objects.filter(pk=registration_id, confirmation_sent_at=now).update(
            confirmation_sent_at=previous
        )
        raise
    log.info("registration confirmation sent", extra={"registration_id": registration_id})
    return True
