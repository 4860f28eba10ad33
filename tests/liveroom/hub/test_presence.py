"""Viewer counts: each web process reports its own, with an expiry; the snapshot has the sum."""

import asyncio
import time

import pytest
from django.conf import settings

from events.models import EventStatus
from tests.factories import EventFactory
from tests.support.liveroom import open_socket, snapshot_where
from tests.support.processes import SERVER_PRESENCE_TTL_S

pytestmark = pytest.mark.serial  # deadlines and bursts: run alone (Makefile)


def test_the_viewer_count_sums_the_sockets_of_every_web_process(web_processes):
    event = EventFactory(status=EventStatus.LIVE)
    first, second = web_processes

    async def scenario():
        watcher = await open_socket(first, event.slug)
        others = [await open_socket(second, event.slug) for _ in range(2)]
        seen = await snapshot_where(watcher, lambda s: s["viewers"] == 3)
        for ws in [watcher, *others]:
            await ws.close()
        return seen

    assert asyncio.run(scenario())["viewers"] == 3


def test_a_killed_web_process_viewers_leave_the_count_within_its_expiry(
    web_processes, spare_web_process
):
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        watcher = await open_socket(web_processes[0], event.slug)
        doomed = [await open_socket(spare_web_process, event.slug) for _ in range(3)]
        await snapshot_where(watcher, lambda s: s["viewers"] == 4)
        spare_web_process.kill()  # SIGKILL: no goodbye, its Redis key simply expires
        killed_at = time.monotonic()
        seen = await snapshot_where(watcher, lambda s: s["viewers"] == 1, timeout=15)
        took = time.monotonic() - killed_at
        await watcher.close()
        for ws in doomed:
            await ws.close()
        return seen, took

    seen, took = asyncio.run(scenario())
    assert seen["viewers"] == 1
    # Expiry, plus a report interval (a third of it), plus a coalescing interval, plus slack
    # for a loaded 2-core machine; far below what was there without expiry (never).
    assert took < SERVER_PRESENCE_TTL_S * 4 / 3 + 3.0


def test_the_production_presence_expiry_is_at_most_30_seconds():
    # The tests' own settings take the default: the variable is set only for the servers.
    assert settings.LIVE_PRESENCE_TTL_SECONDS == 15
    worst = settings.LIVE_PRESENCE_TTL_SECONDS * 4 / 3 + 1 / settings.LIVE_SNAPSHOTS_PER_SECOND
    assert worst <= 30
