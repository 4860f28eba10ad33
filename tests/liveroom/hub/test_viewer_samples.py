"""Viewer samples for the staff dashboard: one row per event per slot for the whole deployment,
however many web processes have viewers of the event."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import override_settings

from events.models import EventStatus, ViewerSample
from liveroom.hub import close_hub, get_hub
from tests import support
from tests.factories import EventFactory
from tests.support.liveroom import Communicator, in_thread, open_socket, snapshot_where
from tests.support.processes import Server, start_server

SAMPLE_S = 1  # a short slot, so a few slots pass in seconds


@pytest.fixture
def sampling_web_processes(django_db_setup, live_redis) -> Iterator[list[Server]]:
    """Two web processes like `web_processes`, sampling every second, on this suite's ports
    (the session's pair samples every 15 s: too slow to watch several slots go by)."""
    env = {"LIVE_VIEWER_SAMPLE_SECONDS": str(SAMPLE_S)}
    servers = [start_server(env=env) for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


def test_two_web_processes_record_one_sample_per_slot_with_the_deployment_count(
    sampling_web_processes,
):
    event = EventFactory(status=EventStatus.LIVE)
    first, second = sampling_web_processes

    async def scenario():
        sockets = [
            await open_socket(first, event.slug),
            await open_socket(second, event.slug),
            await open_socket(second, event.slug),
        ]
        await snapshot_where(sockets[0], lambda s: s["viewers"] == 3)
        # Both processes now report (and try to sample) every 2/3 s; wait for 3 samples of 3.
        await in_thread(
            support.wait_for,
            lambda: ViewerSample.objects.filter(event=event, viewers=3).count() >= 3,
            timeout=15,
            what="three samples of three viewers",
        )
        for ws in sockets:
            await ws.close()

    asyncio.run(scenario())

    samples = list(ViewerSample.objects.filter(event=event).values_list("at", "viewers"))
    per_slot = Counter(int(at.timestamp() // SAMPLE_S) for at, _ in samples)
    assert max(per_slot.values()) == 1
    assert len(samples) >= 3
    # The first sample may predate the last connect: the count only ever went up to 3.
    assert {viewers for _, viewers in samples} <= {1, 2, 3}
    assert [v for _, v in samples][-3:] == [3, 3, 3]


def test_without_redis_the_one_process_records_one_sample_per_slot():
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        hub = await get_hub()
        ws = Communicator(event.slug)
        await ws.connect()
        await ws.receive_text()
        hub.samples.interval_s = SAMPLE_S
        # The presence loop's work, several times per slot, as its ticks would do it.
        deadline = time.monotonic() + 10
        while await sync_to_async(ViewerSample.objects.filter(event=event).count)() < 2:
            assert time.monotonic() < deadline, "no two samples before the deadline"
            await hub._presence_tick(event.pk)
            await asyncio.sleep(0.1)
        await ws.disconnect()
        await close_hub()

    with override_settings(REDIS_URL=""):
        async_to_sync(scenario)()

    samples = list(ViewerSample.objects.filter(event=event).values_list("at", "viewers"))
    per_slot = Counter(int(at.timestamp() // SAMPLE_S) for at, _ in samples)
    assert max(per_slot.values()) == 1
    assert {viewers for _, viewers in samples} == {1}
