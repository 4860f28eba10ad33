"""State changes for campaigns and events. Each locks the event row it changes."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from events import capacity, confirmations, livebus, ratelimits, registration, tasks
from events.models import Attestation, Campaign, Event, EventStatus, Registration, ViewerSample

log = logging.getLogger(__name__)


@transaction.atomic
def add_kind_attestations(*, campaign_id: int) -> int:
    """Give a campaign that has no attestations its kind's default statements (a political
    committee's: citizenship, own funds, no federal contract, age, no corporate or union
    card), which staff then edit. A campaign with statements of its own keeps them. Returns
    how many it added."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.attestations.exists():
        return 0
    texts = campaign.rules.attestations
    Attestation.objects.bulk_create(
        Attestation(campaign=campaign, text=text, position=i) for i, text in enumerate(texts)
    )
    return len(texts)


@transaction.atomic
def _transition(*, event_id: int, to: EventStatus) -> Event:
    # Lock the row: two staff clicking, or a stream going live while staff cancel, must not
    # both pass check_transition on the same old status.
    event = Event.objects.select_for_update().get(pk=event_id)
    event.check_transition(to)
    event.status = to
    fields = ["status", "updated_at"]
    if to == EventStatus.LIVE:
        # A resumed show keeps the time it first went live.
        event.went_live_at = event.went_live_at or timezone.now()
        event.ended_at = None
        fields += ["went_live_at", "ended_at"]
    elif to == EventStatus.BACKSTAGE:
        event.backstage_at = timezone.now()
        fields.append("backstage_at")
    elif to == EventStatus.ENDED:
        event.ended_at = timezone.now()
        fields.append("ended_at")
    event.save(update_fields=fields)
    log.info("event status changed", extra={"event_id": event.pk, "status": to.value})
    transaction.on_commit(partial(livebus.publish_change, event_id=event.pk, kind="status"))
    return event


def schedule_event(*, event_id: int) -> Event:
    """draft → scheduled. Raises InvalidTransition otherwise."""
    return _transition(event_id=event_id, to=EventStatus.SCHEDULED)


def enter_backstage(*, event_id: int) -> Event:
    """scheduled → backstage: a stream is arriving, only staff see it. Raises
    InvalidTransition otherwise."""
    return _transition(event_id=event_id, to=EventStatus.BACKSTAGE)


def start_event(*, event_id: int) -> Event:
    """scheduled or backstage → live (staff went live), or ended → live (staff resumed the
    show; streaming.show checks the time limit). Raises InvalidTransition."""
    return _transition(event_id=event_id, to=EventStatus.LIVE)


def end_event(*, event_id: int) -> Event:
    """live → ended. Raises InvalidTransition otherwise."""
    return _transition(event_id=event_id, to=EventStatus.ENDED)


def cancel_event(*, event_id: int) -> Event:
    """draft or scheduled → cancelled. Raises InvalidTransition otherwise."""
    return _transition(event_id=event_id, to=EventStatus.CANCELLED)


def announce_event_edit(*, event_id: int) -> None:
    """Staff changed an event's details (goal, title, …): the live room re-reads it after
    commit, so viewers see a new goal at once instead of with the next donation."""
    transaction.on_commit(partial(livebus.publish_change, event_id=event_id, kind="status"))


# --- Registration ------------------------------------------------------------------------------
class RegistrationRefused(ValidationError):
    """The event does not take registrations (now); the message says why, for the visitor."""


class RegistrationThrottled(RegistrationRefused):
    """Too many registrations from this address, or for this email, in a while: a 429, and
    `retry_after` seconds to wait."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, code="throttled")
        self.retry_after = retry_after


def check_registration_rate(*, client_address: str, email: str) -> None:
    """Count a registration attempt against REGISTRATIONS_PER_ADDRESS and
    REGISTRATIONS_PER_EMAIL (an hour each, the whole deployment): nobody can make us mail
    strangers in bulk. Raises RegistrationThrottled past either."""
    window = settings.REGISTRATION_RATE_WINDOW_SECONDS
    for scope, subject, limit in (
        ("registration:address", client_address, settings.REGISTRATIONS_PER_ADDRESS),
        ("registration:email", email.casefold(), settings.REGISTRATIONS_PER_EMAIL),
    ):
        wait = ratelimits.hit(scope=scope, subject=subject, limit=limit, window_s=window)
        if wait is not None:
            raise RegistrationThrottled(
                "Too many registrations from here. Please try again later.", retry_after=wait
            )


def check_registration_open(*, event: Event) -> None:
    """Raise RegistrationRefused unless the event asks for registration and is scheduled (and
    not past its end) or live."""
    if not event.registration_required:
        raise RegistrationRefused(
            "This event does not ask for registration: you can watch it without registering.",
            code="not_required",
        )
    if event.status == EventStatus.CANCELLED:
        raise RegistrationRefused("This event was cancelled.", code="cancelled")
    if event.status == EventStatus.ENDED or (
        event.status == EventStatus.SCHEDULED and event.ends_at <= timezone.now()
    ):
        raise RegistrationRefused("This event is over: registration is closed.", code="ended")
    if event.status not in (EventStatus.SCHEDULED, EventStatus.BACKSTAGE, EventStatus.LIVE):
        raise RegistrationRefused("Registration for this event is not open yet.", code="draft")


def register_attendee(
    *, event: Event, name: str, email: str, client_address: str | None = None
) -> Registration:
    """Register an attendee and send them a confirmation: marked due in the caller's
    transaction (the registration row is the outbox), enqueued on commit as the fast path and
    sent by the periodic `send_pending_confirmations` if the broker was down.

    Raises ValidationError with a message per field ("name", "email") for bad details,
    RegistrationRefused when the event does not take registrations, and RegistrationThrottled
    when `client_address` (the visitor's, when a request made it) or the email registered
    too often lately. Idempotent by the unique
    (event, email) constraint: registering again returns the first registration unchanged
    (its name and token kept) and asks for the confirmation again, which
    events.confirmations marks due and sends at most once per REGISTRATION_RESEND_INTERVAL.
    """
    name, email = registration.check_registration_details(name=name, email=email)
    check_registration_open(event=event)
    if client_address is not None:
        check_registration_rate(client_address=client_address, email=email)
    try:
        # A savepoint: the caller's transaction survives the duplicate's IntegrityError.
        with transaction.atomic():
            attendee = Registration.objects.create(
                event=event,
                name=name,
                email=email,
                token=secrets.token_urlsafe(32),
                confirmation_due_at=timezone.now(),
            )
        created = True
    except IntegrityError:
        # Two submissions at once: the second INSERT waited for the first's commit.
        found = Registration.objects.filter(event=event, email=email).first()
        if found is None:  # not the (event, email) constraint: a token collision, say
            raise
        attendee, created = found, False
        confirmations.request_confirmation_resend(registration_id=attendee.pk)
    attendee.event = event
    log.info(
        "attendee registered",
        extra={"event_id": event.pk, "registration_id": attendee.pk, "new": created},
    )
    registration_id = attendee.pk

    def enqueue_confirmation() -> None:
        tasks.send_registration_confirmation.delay(registration_id)

    # robust: a broker outage is logged; the registration stands, still due, and the periodic
    # send_pending_confirmations sends it. A named function, not a partial: Django logs a
    # robust hook's failure by the hook's __qualname__, and a partial has none (the logging
    # itself would raise, after the commit).
    transaction.on_commit(enqueue_confirmation, robust=True)
    return attendee


def record_viewer_sample(*, event_id: int, at: datetime, viewers: int) -> None:
    """One point of the staff dashboard's viewer chart. The live room calls it once per event
    per sample slot for the whole deployment (it elects the writer). An event deleted since
    (a draft or cancelled one) gets no sample, and that is not an error. The count is also
    checked against the event's capacity tier (events/capacity.py: staff alerted at 80% and
    95%, the pre-authorised upgrade)."""
    try:
        with transaction.atomic():
            ViewerSample.objects.create(event_id=event_id, at=at, viewers=viewers)
    except IntegrityError:
        log.info("viewer sample of a deleted event skipped", extra={"event_id": event_id})
        return
    try:
        capacity.check_capacity(event_id=event_id, viewers=viewers)
    except Exception:  # the sample stands; the next one checks again
        log.exception("capacity check failed", extra={"event_id": event_id})
