"""A change published once reaches the viewers of every web process, as one snapshot."""

import asyncio
import time

import pytest
import redis
from django.conf import settings

from events import livebus
from events.models import Event, EventStatus
from tests.factories import EventFactory
from tests.support.liveroom import in_thread, next_snapshot, open_socket, snapshot_where

pytestmark = pytest.mark.serial  # processes that lose and regain Redis: run alone (Makefile)


def change_goal(event_id: int, goal: int) -> None:
    """A committed change, told to the live room once, as services do on commit."""
    Event.objects.filter(pk=event_id).update(goal_minor=goal)
    livebus.publish_change(event_id=event_id, kind="status")


def test_a_change_published_once_reaches_viewers_on_both_web_processes(web_processes):
    event = EventFactory(status=EventStatus.LIVE, goal_minor=1_000_000)
    first, second = web_processes
    listener = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(livebus.channel())

    async def scenario():
        a = await open_socket(first, event.slug)
        b = await open_socket(second, event.slug)
        before = max((await next_snapshot(a))["version"], (await next_snapshot(b))["version"])
        await in_thread(change_goal, event.pk, 2_000_000)
        got_a = await snapshot_where(a, lambda s: s["goal"] == 2_000_000)
        got_b = await snapshot_where(b, lambda s: s["goal"] == 2_000_000)
        await a.close()
        await b.close()
        return before, got_a, got_b

    before, got_a, got_b = asyncio.run(scenario())
    assert got_a == got_b
    assert got_a["version"] > before
    # Published once for the deployment, not once per web process.
    prefix = f"s|{event.pk}|{got_a['version']}|"
    published = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.1)
        if message is not None and message["data"].decode().startswith(prefix):
            published.append(message)
    listener.close()
    assert len(published) == 1


def test_deployments_on_other_redis_databases_do_not_share_the_channel(settings):
    # Redis pub/sub ignores database numbers: the live room names its channel after its own.
    settings.REDIS_URL = "redis://127.0.0.1:6379/5"
    assert livebus.channel() == "pc:live:db5"
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert livebus.channel() == "pc:live:db0"


def test_a_web_process_that_lost_its_subscription_catches_up_when_it_is_back(web_processes):
    event = EventFactory(status=EventStatus.LIVE, goal_minor=1_000_000)
    first, second = web_processes
    admin = redis.Redis.from_url(settings.REDIS_URL)

    async def scenario():
        a = await open_socket(first, event.slug)
        b = await open_socket(second, event.slug)
        await next_snapshot(a)
        await next_snapshot(b)
        # Cut the first process's subscription (only its own, by name), then change the event
        # while it reconnects: the second process publishes, the first must catch up.
        name = f"pc-live-{first.proc.pid}"
        subscriptions = [
            c for c in admin.client_list() if c["name"] == name and c["cmd"] == "subscribe"
        ]
        for client in subscriptions:
            admin.client_kill_filter(_id=client["id"])
        await in_thread(change_goal, event.pk, 3_000_000)
        got_a = await snapshot_where(a, lambda s: s["goal"] == 3_000_000)
        got_b = await snapshot_where(b, lambda s: s["goal"] == 3_000_000)
        await a.close()
        await b.close()
        return len(subscriptions), got_a, got_b

    cut, got_a, got_b = asyncio.run(scenario())
    admin.close()
    assert cut == 1  # one subscription per web process
    assert got_a == got_b
