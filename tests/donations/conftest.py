"""Donations fixtures: the fake Stripe API, Stripe settings pointing at it, signed webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import stripe
from django.conf import settings
from django.test import Client

from tests.donations.fakestripe import FakeStripe

WEBHOOK_SECRET = "whsec_test_secret_0123456789"


@pytest.fixture(autouse=True)
def _clean_rate_limits() -> None:
    """Every test starts with no donation starts counted (only our keys: the Redis database
    may be shared with other suites)."""
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(match="*donations:starts:*", count=1000):
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


def stripe_event(type_: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{type_.replace('.', '_')}_{obj.get('id', 'x')}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "type": type_,
        "data": {"object": obj},
    }


def succeeded(donation: Any, **fields: Any) -> dict[str, Any]:
    obj = {
        "id": donation.payment_id,
        "object": "payment_intent",
        "amount": donation.amount_minor,
        "amount_received": donation.amount_minor,
        "currency": donation.currency,
        "latest_charge": f"ch_{donation.pk}",
        "metadata": {"donation_id": str(donation.pk)},
        "status": "succeeded",
        **fields,
    }
    return stripe_event("payment_intent.succeeded", obj)


def post_webhook(
    client: Client,
    event: dict[str, Any] | str,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    body = event if isinstance(event, str) else json.dumps(event)
    if signature is None:
        signature = stripe.WebhookSignature.generate_signature_header(
            body, secret, timestamp=timestamp
        )
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature else {}
    return client.post(
        "/donations/webhooks/stripe/", data=body, content_type="application/json", **headers
    )


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture(autouse=True)
def _eager_celery(eager_celery: None) -> None:
    """Receipts are sent in the test's process, on commit (Celery eager)."""


@pytest.fixture(autouse=True)
def _transactional(transactional_db: None) -> None:
    """The donations tests run in real transactions (on-commit effects, threads)."""


def start_payload(event: Any, **overrides: Any) -> dict[str, Any]:
    """A valid start-donation body for the event (the factory campaign requires name and
    email only)."""
    import uuid

    from donations.defence import issue_page_token

    body = {
        "attempt_key": str(uuid.uuid4()),
        "page_token": issue_page_token(event_id=event.pk),
        "amount_minor": 2_500,
        "currency": event.campaign.currency,
        "cover_fees": False,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "attestations": [],
    }
    body.update(overrides)
    return body


def post_start(client: Client, event: Any, body: dict[str, Any], **extra: Any) -> Any:
    return client.post(
        f"/donations/events/{event.slug}/start/",
        data=json.dumps(body),
        content_type="application/json",
        **extra,
    )


@pytest.fixture(autouse=True, scope="session")
def _webhook_pool_connections() -> Iterator[None]:
    """The webhook view's pool threads keep their database connections; close them before
    pytest-django drops the test database."""
    yield
    from donations.asgi import close_pool_connections

    close_pool_connections()
