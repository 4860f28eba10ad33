"""The ASGI fast path in front of Django answers Stripe's webhooks the same way the view does."""

from __future__ import annotations

import json

import stripe
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from donations.asgi import WEBHOOK_PATH, StripeWebhookApp
from donations.models import ProviderEvent
from donations.selectors import event_tally
from tests.donations.factories import DonationFactory
from tests.support.stripe import WEBHOOK_SECRET, succeeded


async def _not_found(scope, receive, send):
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"django"})


def call(method="POST", body=b"", headers=(), path=WEBHOOK_PATH) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"host", b"testserver"), *headers],
    }

    async def run():
        app = ApplicationCommunicator(StripeWebhookApp(_not_found), scope)
        await app.send_input({"type": "http.request", "body": body, "more_body": False})
        start = await app.receive_output(10)
        content = await app.receive_output(10)
        return start["status"], content["body"]

    return async_to_sync(run)()


def signed(event: dict) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps(event)
    signature = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
    headers = [
        (b"stripe-signature", signature.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    return body.encode(), headers


def test_the_fast_path_stores_and_applies_a_signed_event(stripe_settings):
    donation = DonationFactory(gift_minor=5_000)

    assert call(*("POST", *signed(succeeded(donation)))) == (200, b"ok")
    assert ProviderEvent.objects.get().applied_at is not None
    assert event_tally(event_id=donation.event_id).raised_minor == 5_000


def test_the_fast_path_refuses_a_bad_signature(stripe_settings):
    donation = DonationFactory()
    body, headers = signed(succeeded(donation))

    status, text = call("POST", body.replace(b"2500", b"9000"), headers)

    assert (status, text) == (
        400,
        b"No signatures found matching the expected signature for payload.",
    )
    assert ProviderEvent.objects.count() == 0


def test_the_fast_path_refuses_get(stripe_settings):
    assert call("GET") == (405, b"Method Not Allowed.")


def test_the_fast_path_refuses_an_oversized_body(stripe_settings, settings):
    settings.STRIPE_WEBHOOK_MAX_BYTES = 1024

    status, _ = call("POST", b"x" * 2048, [(b"content-length", b"2048")])

    assert status == 413
    assert ProviderEvent.objects.count() == 0


def test_the_fast_path_refuses_an_unknown_host(stripe_settings):
    donation = DonationFactory()
    body, headers = signed(succeeded(donation))
    scope_headers = [h for h in headers]

    async def run():
        scope = {
            "type": "http",
            "method": "POST",
            "path": WEBHOOK_PATH,
            "headers": [(b"host", b"evil.example"), *scope_headers],
        }
        app = ApplicationCommunicator(StripeWebhookApp(_not_found), scope)
        await app.send_input({"type": "http.request", "body": body})
        return (await app.receive_output(10))["status"]

    assert async_to_sync(run)() == 400
    assert ProviderEvent.objects.count() == 0


def test_other_paths_go_to_django(stripe_settings):
    assert call("GET", path="/events/x/") == (404, b"django")
