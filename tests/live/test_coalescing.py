"""Tally changes are coalesced: at most 2 snapshots a second per event, the last one final."""

import asyncio
import time

import redis
from django.conf import settings

from events import livebus
from events.models import Event, EventStatus
from tests.factories import EventFactory
from tests.live.conftest import in_thread, next_snapshot, open_socket, snapshot_where


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
    listener.subscribe(livebus.CHANNEL)

    async def scenario():
        sockets = [await open_socket(server, event.slug) for server in web_processes]
        first = max([(await next_snapshot(ws))["version"] for ws in sockets])
        took = await in_thread(hundred_changes, event.pk)
        finals = [await snapshot_where(ws, lambda s: s["goal"] == 1_000_100) for ws in sockets]
        for ws in sockets:
            await ws.close()
        return first, took, finals

    first, took, finals = asyncio.run(scenario())
    assert took < 1.0
    # Collect every snapshot of the event published from the first change until a quiet
    # second after the final one (a trailing snapshot would come within 0.5 s).
    prefix = f"s|{event.pk}|"
    snapshots = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.1)
        if message is not None and message["data"].decode().startswith(prefix):
            version = int(message["data"].decode().split("|")[2])
            if version > first:  # not the snapshots the sockets had before the changes
                snapshots.append(message["data"].decode())
    listener.close()
    assert 1 <= len(snapshots) <= 3
    assert finals[0] == finals[1]
    assert finals[0]["goal"] == 1_000_100
    assert '"goal":1000100,' in snapshots[-1]
