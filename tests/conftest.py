from __future__ import annotations

import pytest

from events.models import Event, EventStatus
from tests.factories import CampaignFactory, EventFactory, MembershipFactory, UserFactory


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
def campaign(db):
    return CampaignFactory()


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
