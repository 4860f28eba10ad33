"""Real donations through the donations app move the live room (its webhook path, on commit)."""

import asyncio
import json
import time

import pytest
import redis
from django.conf import settings

from events import livebus
from events.models import EventStatus
from tests.donations.factories import DonationFactory
from tests.factories import EventFactory
from tests.support.liveroom import (
    collect_snapshots,
    in_thread,
    next_snapshot,
    open_socket,
    snapshot_where,
)
from tests.support.stripe import receive, succeeded

pytestmark = pytest.mark.serial  # deadlines and bursts: run alone (Makefile)

VIEWERS_2 = lambda s: s["viewers"] == 2  # noqa: E731
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def apply_all(donations) -> float:
    """Each donation succeeds by its own Stripe webhook, as fast as they come."""
    started = time.monotonic()
    for donation in donations:
        receive(succeeded(donation))
    return time.monotonic() - started


async def apply_concurrently(donations, workers: int = 4) -> float:
    """The webhooks of `donations` from `workers` threads at once, as a burst of Stripe calls
    arrives at several web workers; returns how long the whole burst took."""
    started = time.monotonic()
    await asyncio.gather(*(in_thread(apply_all, donations[i::workers]) for i in range(workers)))
    return time.monotonic() - started


def test_a_hundred_donations_within_a_second_make_at_most_three_snapshots_the_last_final(
    web_processes,
):
    event = EventFactory(status=EventStatus.LIVE)
    pending = [DonationFactory(event=event, gift_minor=1_000 + i) for i in range(100)]
    final_total = sum(1_000 + i for i in range(100))
    listener = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(livebus.channel())

    async def scenario():
        sockets = [await open_socket(server, event.slug) for server in web_processes]
        # Viewers settled (a change of the viewer count is a snapshot too), then the gifts.
        before = max([(await snapshot_where(ws, VIEWERS_2))["version"] for ws in sockets])
        await asyncio.to_thread(collect_snapshots, listener, event.pk, before, 0)
        took = await apply_concurrently(pending)
        finals = [await snapshot_where(ws, lambda s: s["raised"] == final_total) for ws in sockets]
        published = await asyncio.to_thread(collect_snapshots, listener, event.pk, before)
        for ws in sockets:
            await ws.close()
        return took, finals, published

    took, finals, published = asyncio.run(scenario())
    listener.close()
    assert took < 1.0
    assert 1 <= len(published) <= 3
    assert (published[-1]["raised"], published[-1]["donations"]) == (final_total, 100)
    assert finals[0] == finals[1]
    assert (finals[0]["raised"], finals[0]["donors"], finals[0]["donations"]) == (
        final_total,
        100,
        100,
    )


def test_a_script_in_a_donor_name_and_message_arrives_as_a_json_string(web_processes):
    event = EventFactory(status=EventStatus.LIVE)
    donation = DonationFactory(
        event=event, gift_minor=2_500, ticker_opt_in=True, display_name=XSS[:60], message=XSS
    )

    async def scenario():
        ws = await open_socket(web_processes[0], event.slug)
        await next_snapshot(ws)
        await in_thread(apply_all, [donation])
        deadline = time.monotonic() + 10
        while True:
            raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
            if json.loads(raw)["recent"]:
                await ws.close()
                return raw

    raw = asyncio.run(scenario())
    # No markup character travels raw, even inside the JSON strings.
    assert "<" not in raw
    assert ">" not in raw
    assert json.loads(raw)["recent"] == [{"name": XSS[:60], "amount": 2_500, "message": XSS}]
