"""Without REDIS_URL (the embedded default) the hub runs in-process through the same interface."""

import json

from asgiref.sync import async_to_sync, sync_to_async
from django.test import override_settings

from events import livebus
from events.models import Event, EventStatus
from liveroom.backend import LocalBackend
from liveroom.hub import close_hub, get_hub
from tests.factories import EventFactory
from tests.support.liveroom import Communicator


def raise_goal(event_id: int) -> None:
    Event.objects.filter(pk=event_id).update(goal_minor=7_000_000)
    livebus.publish_change(event_id=event_id, kind="tally")


def test_without_redis_a_change_reaches_the_sockets_of_this_process():
    event = EventFactory(status=EventStatus.LIVE, goal_minor=6_000_000)

    async def scenario():
        hub = await get_hub()
        ws = Communicator(event.slug)
        await ws.connect()
        first = json.loads(await ws.receive_text())
        await sync_to_async(raise_goal)(event.pk)
        second = json.loads(await ws.receive_text())
        await ws.disconnect()
        await close_hub()
        return type(hub.backend), first, second

    with override_settings(REDIS_URL=""):
        backend, first, second = async_to_sync(scenario)()
    assert backend is LocalBackend
    assert (first["goal"], first["viewers"]) == (6_000_000, 1)
    assert (second["goal"], second["viewers"]) == (7_000_000, 1)
    assert second["version"] > first["version"]
