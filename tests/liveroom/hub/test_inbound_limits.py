"""What clients send is bounded: an oversized message or a flood closes the socket."""

import json

from asgiref.sync import async_to_sync
from django.test import override_settings

from events.models import EventStatus
from liveroom.consumers import CLOSE_FLOOD, CLOSE_TOO_BIG
from liveroom.hub import close_hub, get_hub
from tests.factories import EventFactory
from tests.support.liveroom import Communicator


def test_a_message_over_the_size_limit_closes_the_socket_with_1009(live_redis):
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        ws = Communicator(event.slug)
        await ws.connect()
        await ws.receive_text()
        await ws.send_text("x" * 1025)
        closed = await ws.receive_output(5)
        await ws.disconnect()
        await close_hub()
        return closed

    with override_settings(LIVE_INBOUND_MAX_BYTES=1024):
        closed = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": CLOSE_TOO_BIG}


def test_messages_within_the_limits_are_answered_and_the_socket_stays(live_redis):
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        ws = Communicator(event.slug)
        await ws.connect()
        await ws.receive_text()
        for _ in range(5):
            await ws.send_text("x" * 1024)
        answers = [json.loads(await ws.receive_text()) for _ in range(5)]
        quiet = await ws.receive_nothing(0.2)
        await ws.disconnect()
        await close_hub()
        return answers, quiet

    with override_settings(LIVE_INBOUND_MAX_BYTES=1024, LIVE_INBOUND_PER_SECOND=5):
        answers, quiet = async_to_sync(scenario)()
    assert [a["code"] for a in answers] == ["bad_message"] * 5  # not JSON: said, not closed
    assert quiet is True


def test_a_client_that_floods_is_closed_with_1008_and_its_slot_given_back(live_redis):
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        ws = Communicator(event.slug)
        await ws.connect()
        await ws.receive_text()
        for _ in range(20):  # a burst allows twice the rate of 5
            await ws.send_text("ping")
        closed = await ws.receive_output(5)
        while closed["type"] == "websocket.send":  # the error frames of the burst's first ten
            closed = await ws.receive_output(5)
        await ws.disconnect()
        count = (await get_hub()).counts.get(event.pk, 0)  # this process's viewers
        await close_hub()
        return closed, count

    with override_settings(LIVE_INBOUND_PER_SECOND=5):
        closed, count = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": CLOSE_FLOOD}
    assert count == 0
