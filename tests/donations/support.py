"""Helpers of the donations tests: starting a donation as the donate panel does, and counting
what the live room was told."""

from __future__ import annotations

import json
import uuid
from typing import Any

import redis
from django.conf import settings
from django.test import Client

from donations.defence import issue_page_token
from events import livebus
from tests.support.stripe import post_webhook, stripe_event

# What a donor past a political campaign's itemization threshold gives beside the name and
# the postal code (donations/compliance/itemization.py).
ITEMIZED = {
    "address_line1": "1 Analytical Way",
    "city": "Washington",
    "region": "DC",
    "country": "US",
    "employer": "Babbage & Co",
    "occupation": "Mathematician",
}


def start_payload(event: Any, **overrides: Any) -> dict[str, Any]:
    """A valid start-donation body for the event (the factory campaign requires name and
    email only)."""
    return start_body(event_id=event.pk, **{"currency": event.campaign.currency, **overrides})


def start_body(*, event_id: int, currency: str = "usd", **overrides: Any) -> dict[str, Any]:
    """start_payload for an event known only by its id (one in another process's database)."""
    body = {
        "attempt_key": str(uuid.uuid4()),
        "page_token": issue_page_token(event_id=event_id),
        "amount_minor": 2_500,
        "currency": currency,
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


def reset_live_changes(event_id: int) -> None:
    """A new test database reuses event ids: forget a counter left by an earlier session."""
    redis.Redis.from_url(settings.REDIS_URL).delete(livebus.key(event_id, "changes"))


def live_changes(event_id: int) -> int:
    """How many times the live room was told the event's tally changed."""
    value = redis.Redis.from_url(settings.REDIS_URL).get(livebus.key(event_id, "changes"))
    return int(value or 0)


def deliver_paid(client: Client, objects: dict[str, dict[str, Any]]) -> None:
    """Every webhook Stripe sends when an invoice is paid (fakestripe's pay_invoice or renew),
    in Stripe's usual order; each must be accepted."""
    for type_, key in (
        ("payment_intent.succeeded", "payment_intent"),
        ("invoice_payment.paid", "invoice_payment"),
        ("invoice.paid", "invoice"),
        ("customer.subscription.updated", "subscription"),
    ):
        response = post_webhook(client, stripe_event(type_, objects[key]))
        assert response.status_code == 200, response.content
