"""Connecting to the live room: admission of a known event, the snapshot at once, from memory."""

import asyncio
import json
import socket

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import override_settings

from events.models import EventStatus
from liveroom.consumers import CLOSE_NOT_FOUND, CLOSE_UNAVAILABLE, RefusalCounts
from liveroom.hub import close_hub, get_hub
from tests.factories import EventFactory
from tests.support.liveroom import Communicator


def test_it_sends_the_current_snapshot_on_connect(live_redis):
    event = EventFactory(status=EventStatus.LIVE, goal_minor=2_500_000, slug="rally")

    async def scenario():
        ws = Communicator("rally")
        accepted = await ws.connect()
        snapshot = json.loads(await ws.receive_text())
        await ws.disconnect()
        await close_hub()
        return accepted, snapshot

    accepted, snapshot = async_to_sync(scenario)()
    assert accepted["type"] == "websocket.accept"
    assert snapshot == {
        "version": snapshot["version"],  # Redis's clock in ms (see test_tally_json)
        "status": "live",
        "currency": "usd",
        "goal": 2_500_000,
        "raised": 0,
        "donors": 0,
        "donations": 0,
        "viewers": 1,  # the connecting viewer counts
        "capacity": event.capacity_tier.max_attendees,
        "recent": [],
        "matched": 0,
        "match": None,
        "milestones": [],
        "stream": "none",
        "replay": False,
        "room": {"asking": True, "on_screen": None, "questions": [], "poll": None, "ask": None},
    }
    assert event.slug == "rally"


def test_a_further_connection_is_served_from_memory_without_a_query(
    live_redis, django_assert_num_queries
):
    EventFactory(status=EventStatus.LIVE, slug="warm")

    async def scenario():
        first = Communicator("warm")
        await first.connect()
        first_version = json.loads(await first.receive_text())["version"]
        # The hub's database reads run in this (the test's) thread: count them there.
        counting = django_assert_num_queries(0)
        await sync_to_async(counting.__enter__)()
        second = Communicator("warm")
        accepted = await second.connect()
        snapshot = json.loads(await second.receive_text())
        await sync_to_async(counting.__exit__)(None, None, None)
        await first.disconnect()
        await second.disconnect()
        await close_hub()
        return accepted, snapshot, first_version

    accepted, snapshot, first_version = async_to_sync(scenario)()
    assert accepted["type"] == "websocket.accept"
    assert snapshot["version"] == first_version


def test_it_closes_an_unknown_event_with_4404(live_redis):
    async def scenario():
        ws = Communicator("no-such-event")
        await ws.connect()
        closed = await ws.receive_output(5)
        await close_hub()
        return closed

    assert async_to_sync(scenario)() == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


def test_it_closes_a_draft_event_with_4404(live_redis):
    EventFactory(status=EventStatus.DRAFT, slug="secret")

    async def scenario():
        ws = Communicator("secret")
        await ws.connect()
        closed = await ws.receive_output(5)
        await close_hub()
        return closed

    assert async_to_sync(scenario)() == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


def test_it_closes_with_1011_when_redis_is_down_so_the_client_retries_later():
    EventFactory(status=EventStatus.LIVE, slug="no-redis")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]

    async def scenario():
        ws = Communicator("no-redis")
        await ws.connect()
        closed = await ws.receive_output(5)
        await close_hub()
        return closed

    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port}/0"):
        closed = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAVAILABLE}


def test_a_client_gone_before_the_accept_gives_its_seat_back(live_redis):
    event = EventFactory(status=EventStatus.LIVE, slug="gone")
    scope = {
        "type": "websocket",
        "path": "/ws/events/gone/",
        "query_string": b"",
        "headers": [(b"origin", b"http://127.0.0.1")],
        "subprotocols": [],
    }

    async def scenario():
        from config.asgi import application

        inbox: asyncio.Queue = asyncio.Queue()
        await inbox.put({"type": "websocket.connect"})

        async def send(message):
            # What uvicorn does when the client already left: the send raises.
            raise ConnectionResetError("client disconnected")

        hub = await get_hub()
        with pytest.raises(ConnectionResetError):
            await application(scope, inbox.get, send)
        seats = hub.counts.get(event.pk, 0)
        await close_hub()
        return seats

    assert async_to_sync(scenario)() == 0


def test_refused_sockets_are_logged_as_counts_not_a_line_each(caplog):
    counts = RefusalCounts(every_s=60)
    with caplog.at_level("INFO", logger="liveroom.consumers"):
        for _ in range(500):
            counts.add("full", 7)
        assert [r for r in caplog.records if r.getMessage() == "live room refused sockets"] == []
        counts.since -= 61  # the interval has passed: the next refusal reports them all
        counts.add("full", 7)
    (line,) = [r for r in caplog.records if r.getMessage() == "live room refused sockets"]
    assert (line.event_id, line.why, line.count) == (7, "full", 501)
