"""Changes made by clients' messages (votes, upvotes, questions) are told to every process a few
times a second, not once per message: the first at once, the ones made meanwhile together at the
end of its wait, so the last change always gets out."""

import asyncio
import time

from asgiref.sync import async_to_sync
from django.test import override_settings

from events import livebus
from events.models import EventStatus
from liveroom.hub import NOTICE_EVERY_S, close_hub, get_hub
from tests.factories import EventFactory


def test_a_burst_of_changes_is_told_once_at_once_and_once_after_the_wait():
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario() -> tuple[int, int, int]:
        hub = await get_hub()
        before = livebus.local_changes(event.pk)
        for _ in range(50):
            hub.tell_soon(event.pk, "engagement")
        await asyncio.sleep(0)  # the first notice's task runs
        at_once = livebus.local_changes(event.pk) - before
        deadline = time.monotonic() + 5
        while event.pk in hub._telling and time.monotonic() < deadline:
            await asyncio.sleep(NOTICE_EVERY_S / 10)
        told = livebus.local_changes(event.pk) - before
        # A change after the wait is over is told at once again.
        hub.tell_soon(event.pk, "engagement")
        await asyncio.sleep(0)
        later = livebus.local_changes(event.pk) - before
        await close_hub()
        return at_once, told, later

    with override_settings(REDIS_URL=""):
        at_once, told, later = async_to_sync(scenario)()
    assert at_once == 1
    assert told == 2
    assert later == 3


def test_inside_deferred_changes_publish_change_only_records():
    seen: set[tuple[int, str]] = set()
    with override_settings(REDIS_URL=""):
        before = livebus.local_changes(41)
        with livebus.deferred_changes(seen):
            livebus.publish_change(event_id=41, kind="engagement")
            livebus.publish_change(event_id=41, kind="engagement")
        assert livebus.local_changes(41) == before
        livebus.publish_change(event_id=41, kind="engagement")
        assert livebus.local_changes(41) == before + 1
    assert seen == {(41, "engagement")}
