"""Registration confirmations go out from the registration row (the outbox): a broker outage
when one is enqueued delays it, never loses it; the periodic sender sends each once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from kombu.exceptions import OperationalError
from kombu.messaging import Producer

from config.celery import app
from events import confirmations, services, tasks
from events.models import Event, EventStatus, Registration
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def town_hall(campaign) -> Event:
    """A scheduled event of `campaign` that asks for registration."""
    return EventFactory(campaign=campaign, status=EventStatus.SCHEDULED, registration_required=True)


@pytest.fixture
def broker_down(monkeypatch) -> Iterator[list[str]]:
    """Celery publishes for real (not eager) and its transport cannot reach Redis. Yields the
    names of the tasks it tried to publish."""
    attempts: list[str] = []

    def publish(self, body, *args, headers=None, **kwargs):
        attempts.append((headers or {}).get("task", "?"))
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Producer, "publish", publish)
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield attempts
    app.conf.task_always_eager = before


def _register(event: Event, email: str = "ada@example.org") -> Registration:
    return services.register_attendee(event=event, name="Ada Lovelace", email=email)


class RefusesOneRecipient:
    """An SMTP server that refuses mail to one address (Django's email backend seam)."""

    refused = "bounce@example.org"

    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        for message in messages:
            if self.refused in message.to:
                raise ConnectionRefusedError("recipient refused")
        mail.outbox.extend(messages)
        return len(messages)


@pytest.mark.django_db(transaction=True)
def test_a_registration_made_while_the_broker_is_down_stands_and_is_confirmed_once_later(
    town_hall, broker_down
):
    reg = _register(town_hall)  # autocommit: the on-commit enqueue runs, and fails, here

    assert broker_down == ["events.tasks.send_registration_confirmation"]
    stored = Registration.objects.get()
    assert (stored.pk, stored.email, stored.confirmation_sent_at) == (
        reg.pk,
        "ada@example.org",
        None,
    )
    assert stored.confirmation_due_at is not None
    assert mail.outbox == []

    assert tasks.send_pending_confirmations() == 1
    assert tasks.send_pending_confirmations() == 0
    assert [m.to for m in mail.outbox] == [["ada@example.org"]]
    assert mail.outbox[0].subject == f"You're registered: {town_hall.title}"
    stored.refresh_from_db()
    assert stored.confirmation_sent_at is not None
    assert stored.confirmation_due_at is None


@pytest.mark.django_db(transaction=True)
def test_workers_running_the_periodic_sender_at_once_send_each_confirmation_once(
    town_hall, broker_down
):
    emails = [f"attendee{i}@example.org" for i in range(8)]
    for email in emails:
        _register(town_hall, email=email)
    assert mail.outbox == []
    barrier = threading.Barrier(4)
    sent: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            sent.append(tasks.send_pending_confirmations())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert len(sent) == 4
    assert sum(sent) == 8
    assert sorted(m.to[0] for m in mail.outbox) == sorted(emails)
    assert Registration.objects.filter(confirmation_due_at__isnull=False).count() == 0
    assert Registration.objects.filter(confirmation_sent_at=None).count() == 0


def test_a_failed_send_stays_due_and_is_sent_on_the_next_run(town_hall, broker_down, settings):
    reg = _register(town_hall)
    due_at = Registration.objects.get().confirmation_due_at
    settings.EMAIL_BACKEND = "tests.events.test_registration.FailingBackend"

    assert confirmations.send_pending_confirmations() == 0
    stored = Registration.objects.get()
    assert (stored.confirmation_sent_at, stored.confirmation_due_at) == (None, due_at)
    assert mail.outbox == []

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert confirmations.send_pending_confirmations() == 1
    assert confirmations.send_pending_confirmations() == 0
    assert [m.to for m in mail.outbox] == [[reg.email]]


def test_one_refused_address_does_not_hold_back_the_others(town_hall, broker_down, settings):
    _register(town_hall, email=RefusesOneRecipient.refused)
    _register(town_hall, email="ada@example.org")
    settings.EMAIL_BACKEND = "tests.events.test_confirmation_outbox.RefusesOneRecipient"

    assert confirmations.send_pending_confirmations() == 1

    assert [m.to for m in mail.outbox] == [["ada@example.org"]]
    assert list(
        Registration.objects.filter(confirmation_due_at__isnull=False).values_list(
            "email", flat=True
        )
    ) == [RefusesOneRecipient.refused]


def test_registering_again_soon_is_not_due_and_after_the_resend_interval_is(town_hall, broker_down):
    first = _register(town_hall)
    assert confirmations.send_pending_confirmations() == 1

    _register(town_hall)
    assert Registration.objects.get().confirmation_due_at is None
    assert confirmations.send_pending_confirmations() == 0

    long_ago = timezone.now() - confirmations.REGISTRATION_RESEND_INTERVAL - timedelta(seconds=1)
    Registration.objects.filter(pk=first.pk).update(confirmation_sent_at=long_ago)
    _register(town_hall)
    assert Registration.objects.get().confirmation_due_at is not None
    assert confirmations.send_pending_confirmations() == 1
    assert [m.to for m in mail.outbox] == [["ada@example.org"], ["ada@example.org"]]


def test_a_due_confirmation_of_an_event_now_over_is_never_sent_and_no_longer_due(
    town_hall, broker_down
):
    _register(town_hall)
    Event.objects.filter(pk=town_hall.pk).update(status=EventStatus.CANCELLED)

    assert confirmations.send_pending_confirmations() == 0

    assert mail.outbox == []
    stored = Registration.objects.get()
    assert (stored.confirmation_sent_at, stored.confirmation_due_at) == (None, None)


def test_the_periodic_sender_makes_one_query_when_nothing_is_due(
    town_hall, broker_down, django_assert_num_queries
):
    _register(town_hall)
    assert confirmations.send_pending_confirmations() == 1
    with django_assert_num_queries(1):
        assert confirmations.send_pending_confirmations() == 0


def test_beat_runs_the_periodic_sender_every_five_seconds(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["events-confirmations"]
    assert entry == {"task": "events.tasks.send_pending_confirmations", "schedule": 5.0}
    assert app.tasks[entry["task"]].name == "events.tasks.send_pending_confirmations"


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_never_sent_confirmations_of_coming_events_due(campaign):
    before = [("events", "0003_registration_viewersample")]
    after = [("events", "0004_registration_confirmation_due")]
    coming = EventFactory(campaign=campaign, status=EventStatus.SCHEDULED)
    over = EventFactory(campaign=campaign, status=EventStatus.ENDED)
    MigrationExecutor(connection).migrate(before)
    try:
        registration_0003 = (
            MigrationExecutor(connection)
            .loader.project_state(before)
            .apps.get_model("events", "Registration")
        )
        lost = registration_0003.objects.create(
            event_id=coming.pk, name="A", email="a@example.org", token="a"
        )
        registration_0003.objects.create(
            event_id=coming.pk,
            name="B",
            email="b@example.org",
            token="b",
            confirmation_sent_at=timezone.now(),
        )
        registration_0003.objects.create(
            event_id=over.pk, name="C", email="c@example.org", token="c"
        )
    finally:
        MigrationExecutor(connection).migrate(after)
        # And on to the latest schema, which the rest of the run expects.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    due = Registration.objects.filter(confirmation_due_at__isnull=False)
    assert list(due.values_list("email", "confirmation_due_at")) == [
        ("a@example.org", Registration.objects.get(pk=lost.pk).created_at)
    ]
