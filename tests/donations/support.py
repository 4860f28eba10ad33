"""Helpers of the donations tests: starting a donation as the donate panel does, and counting
what the live room was told."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.test import Client

from donations.defence import issue_page_token
from events import livebus


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
