"""Fixtures shared by every app's tests. A test module uses these, never a copy of its own;
a module that needs a variant names it for what it is (`registration_event`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from django.conf import settings

from events.models import Event, EventStatus
from streaming import services as stream_services
from streaming.models import Stream
from tests import support
from tests.factories import CampaignFactory, EventFactory, MembershipFactory, UserFactory
from tests.support import fastflush

fastflush.install()


@pytest.fixture
def eager_celery():
    """Celery runs tasks in the caller, on commit (as in `make run`), even with Redis
    configured (where the settings make it a real broker)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def free_port() -> Callable[[], int]:
    """free_port() → a loopback port nothing listens on, handed out once per run."""
    return support.free_port


@pytest.fixture
def campaign(db):
    return CampaignFactory()


@pytest.fixture
def event(campaign) -> Event:
    """A live event of `campaign` (giving is open)."""
    return EventFactory(campaign=campaign, status=EventStatus.LIVE)


@pytest.fixture
def scheduled_event(campaign) -> Event:
    """A scheduled event of `campaign`: public, not started."""
    return EventFactory(campaign=campaign, status=EventStatus.SCHEDULED)


@pytest.fixture
def stream(scheduled_event) -> Stream:
    """The scheduled event's stream (passthrough HLS push, no ladder); its key is not kept."""
    return stream_services.create_stream(event_id=scheduled_event.pk)[0]


@pytest.fixture
def live_event(db) -> Event:
    return EventFactory(status=EventStatus.LIVE)


@pytest.fixture
def staff_factory(db):
    """staff_factory(campaign, role) → a staff user who is a member of that campaign."""

    def make(campaign, role="manager", **kwargs):
        return MembershipFactory(campaign=campaign, role=role, user=UserFactory(**kwargs)).user

    return make


@pytest.fixture
def superuser(db):
    return UserFactory(username="operator", is_superuser=True)


@pytest.fixture(scope="session")
def live_redis() -> Iterator[redis.Redis]:
    """The test Redis, without the live room's keys of earlier runs (event ids repeat)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("pc:live:*", count=1000):
        client.delete(key)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _no_rate_limit_history(live_redis) -> None:
    """Every test starts with no attempts counted by events.ratelimits: its windows last up to
    an hour and every test client is 127.0.0.1. A test of a limit makes its own attempts."""
    for key in live_redis.scan_iter("*pc:rate:*", count=1000):
        live_redis.delete(key)
