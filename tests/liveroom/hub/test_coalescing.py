"""Tally changes are coalesced: at most 2 snapshots a second per event, the last one final."""

import asyncio
import time

import pytest
import redis
from django.conf import settings

from events import livebus
from events.models import Event, EventStatus
from tests.factories import EventFactory
from tests.support.liveroom import collect_snapshots, in_thread, open_socket, snapshot_where

pytestmark = pytest.mark.serial  # deadlines and bursts: run alone (Makefile)


def hundred_changes(event_id: int) -> float:
    """100 committed changes, each told to the live room as the donations service does."""
    started = time.monotonic()
    for goal in range(1_000_001, 1_000_101):
        Event.objects.filter(pk=event_id).update(goal_minor=goal)
        livebus.publish_change(event_id=event_id, kind="tally")
    return time.monotonic() - started


def test_a_hundred_changes_within_a_second_make_at_most_three_snapshots_the_last_final(
    web_processes,
):
    event = EventFactory(status=EventStatus.LIVE, goal_minor=1_000_000)
    listener = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(livebus.channel())

    async def scenario():
        sockets = [await open_socket(server, event.slug) for server in web_processes]
        # Viewers settled (a change of the viewer count is a snapshot too), then the changes.
        settled = [await snapshot_where(ws, lambda s: s["viewers"] == 2) for ws in sockets]
        before = max(s["version"] for s in settled)
        await asyncio.to_thread(collect_snapshots, listener, event.pk, before, 0)
        took = await in_thread(hundred_changes, event.pk)
        finals = [await snapshot_where(ws, lambda s: s["goal"] == 1_000_100) for ws in sockets]
        published = await asyncio.to_thread(collect_snapshots, listener, event.pk, before)
        for ws in sockets:
            await ws.close()
        return took, finals, published

    took, finals, published = asyncio.run(scenario())
    listener.close()
    assert took < 1.0
    assert 1 <= len(published) <= 3
    assert published[-1]["goal"] == 1_000_100
    assert finals[0] == finals[1]
    assert finals[0]["goal"] == 1_000_100
