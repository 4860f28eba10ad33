"""Stripe's side in tests: events in Stripe's JSON shape, signed webhook deliveries, and the
receiver's path without HTTP. The remote Stripe API itself is tests.donations.fakestripe."""

from __future__ import annotations

import json
import time
from typing import Any

import stripe
from django.test import Client

from donations.models import ProviderEvent
from donations.providers.stripe_events import parse_event
from donations.webhooks.apply import receive_event

WEBHOOK_SECRET = "whsec_test_secret_0123456789"


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
    """`payment_intent.succeeded` for the donation's payment (`fields` override the intent's)."""
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


def receive(event: dict[str, Any], *, source: str = "webhook") -> ProviderEvent:
    """Store and apply an event as the webhook receiver does once the signature checks out."""
    return receive_event(event=parse_event(event), source=source)


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
