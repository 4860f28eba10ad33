"""Helpers of the donations tests: starting a donation as the donate panel does, counting
what the live room was told, delivering Stripe's webhooks, and the donor's self-service
(asking for a link, reading it from the mail outbox, signing in)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client

from donations.defence import issue_page_token
from donations.models import MonthlyGift
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


def one_tap_body(event: Any, **overrides: Any) -> dict[str, Any]:
    """A valid one-tap body for the event: the donor and the card come from the cookie."""
    return {
        "attempt_key": str(uuid.uuid4()),
        "page_token": issue_page_token(event_id=event.pk),
        "amount_minor": 2_500,
        "cover_fees": False,
        "monthly": False,
        **overrides,
    }


def post_one_tap(client: Client, event: Any, body: dict[str, Any], **extra: Any) -> Any:
    return client.post(
        f"/donations/one-tap/{event.slug}/",
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


def give_simulated(client: Client, event: Any, **overrides: Any) -> dict[str, Any]:
    """A gift with the simulated provider, started and confirmed (paid): the start's answer."""
    started = post_start(client, event, start_payload(event, **overrides)).json()
    confirmed = client.post(
        "/donations/simulated/confirm/",
        data={"donation_id": started["donation_id"], "client_secret": started["client_secret"]},
        content_type="application/json",
    )
    assert confirmed.status_code == 200, confirmed.content
    return started


def deliver(client: Client, type_: str, obj: dict[str, Any], **fields: Any) -> None:
    """A signed webhook of `obj`, accepted (`fields` override the event's, e.g. `created`)."""
    event = {**stripe_event(type_, obj), **fields}
    response = post_webhook(client, event)
    assert response.status_code == 200, response.content


def deliver_paid(client: Client, objects: dict[str, dict[str, Any]]) -> None:
    """Every webhook Stripe sends when an invoice is paid (fakestripe's pay_invoice)."""
    deliver(client, "payment_intent.succeeded", objects["payment_intent"])
    deliver(client, "invoice_payment.paid", objects["invoice_payment"])
    deliver(client, "invoice.paid", objects["invoice"])
    deliver(client, "customer.subscription.updated", objects["subscription"])


def paid_monthly_gift(client: Client, event: Any, fake: Any, **overrides: Any) -> Any:
    """A monthly gift started at the fake Stripe, its first month paid (every webhook
    delivered): the MonthlyGift."""
    started = post_start(client, event, start_payload(event, monthly=True, **overrides))
    assert started.status_code == 200, started.content
    donation_id = started.json()["donation_id"]
    gift = MonthlyGift.objects.get(first_donation_id=donation_id)
    deliver_paid(client, fake.pay_invoice(gift.first_donation.invoice_id))
    gift.refresh_from_db()
    return gift


# --- The donor's self-service ---------------------------------------------------------------------

MANAGE = "/donations/manage/"
GIFTS = "/donations/manage/gifts/"
_LINK = re.compile(r"/donations/manage/link/[A-Za-z0-9_-]+/")


def ask_link(client: Client, email: str, **data: str) -> Any:
    return client.post(MANAGE, {"email": email, **data})


def link_path(message: Any) -> str:
    """The self-service link in an email (its text part)."""
    found = _LINK.search(message.body)
    assert found is not None, message.body
    return found.group(0)


def sign_in(client: Client, email: str) -> None:
    """Ask for a link, take it from the mail outbox and continue: the client holds the donor's
    session."""
    before = len(mail.outbox)
    assert ask_link(client, email).status_code == 200
    assert len(mail.outbox) == before + 1
    opened = client.post(link_path(mail.outbox[-1]))
    assert opened.status_code == 303, opened.content


def in_threads(count: int, target: Callable[[], object]) -> list[object]:
    """Start `count` threads at one barrier; return what each returned (or raised)."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results
