"""Donations fixtures: the fake Stripe API, Stripe or simulated settings, and an event of a
campaign that offers monthly giving. Helpers are in tests.donations.support and
tests.support.stripe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client

from donations.asgi import close_pool_connections
from events.models import Event
from tests.donations.fakestripe import FakeStripe
from tests.support.stripe import WEBHOOK_SECRET

# The donations' rate limits: donation starts, self-service link requests and changes.
RATE_LIMIT_KEYS = ["*donations:starts:*", "*donations:links:*", "*donations:manage:*"]


@pytest.fixture(autouse=True)
def _clean_rate_limits() -> None:
    """Every test starts with nothing counted against the donations' rate limits (only our
    keys: the Redis database may be shared with other suites)."""
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for pattern in RATE_LIMIT_KEYS:
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
        client.close()


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    server = FakeStripe()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stripe_settings(settings: Any, fake_stripe: FakeStripe) -> FakeStripe:
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake_stripe.url
    settings.DONATION_PROVIDER_RETRY_SECONDS = 3
    return fake_stripe


@pytest.fixture
def simulated_settings(settings: Any) -> None:
    settings.STRIPE_SECRET_KEY = ""
    settings.ALLOW_SIMULATED_PAYMENTS = True


@pytest.fixture
def monthly_event(campaign: Any, event: Event) -> Event:
    """The shared live `event`, its campaign offering monthly giving."""
    campaign.monthly_enabled = True
    campaign.save(update_fields=["monthly_enabled"])
    return event


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture(autouse=True)
def _eager_celery(eager_celery: None) -> None:
    """Receipts are sent in the test's process, on commit (Celery eager)."""


@pytest.fixture(autouse=True)
def _transactional(transactional_db: None) -> None:
    """The donations tests run in real transactions (on-commit effects, threads)."""


@pytest.fixture(autouse=True, scope="session")
def _webhook_pool_connections() -> Iterator[None]:
    """The webhook view's pool threads keep their database connections; close them before
    pytest-django drops the test database."""
    yield
    close_pool_connections()
