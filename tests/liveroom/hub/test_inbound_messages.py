"""Messages within the bounds that the live room cannot use get an error frame that says why,
and the socket stays: it still gets the next snapshot."""

import json

from asgiref.sync import async_to_sync

from events import livebus
from events.models import Event, EventStatus
from liveroom.hub import close_hub
from tests.factories import EventFactory
from tests.support.liveroom import Communicator, in_thread

BAD = [
    ("not json", "bad_message"),
    ("[1, 2]", "bad_message"),
    ('"ask"', "bad_message"),
    ("[" * 40 + "]" * 40, "bad_message"),
    ('{"text": "no type"}', "unknown_type"),
    ('{"type": 7}', "unknown_type"),
    ('{"type": "shout", "ref": 12}', "unknown_type"),
]


def test_each_malformed_or_unknown_message_gets_an_error_frame_and_the_socket_stays(live_redis):
    event = EventFactory(status=EventStatus.LIVE, goal_minor=1_000_000)

    def change_goal():
        Event.objects.filter(pk=event.pk).update(goal_minor=2_000_000)
        livebus.publish_change(event_id=event.pk, kind="status")

    async def scenario():
        ws = Communicator(event.slug)
        await ws.connect()
        await ws.receive_text()
        answers = []
        for text, _ in BAD:
            await ws.send_text(text)
            answers.append(json.loads(await ws.receive_text()))
        await ws.send_input({"type": "websocket.receive", "bytes": b"\x00\x01"})
        answers.append(json.loads(await ws.receive_text()))
        await in_thread(change_goal)
        after = json.loads(await ws.receive_text())
        await ws.disconnect()
        await close_hub()
        return answers, after

    answers, after = async_to_sync(scenario)()
    assert [a["code"] for a in answers] == [code for _, code in BAD] + ["bad_message"]
    assert all(a["type"] == "error" and a["message"] for a in answers)
    assert answers[6]["ref"] == 12  # echoed, so the page says it where it was asked
    assert "ref" not in answers[0]
    assert after["goal"] == 2_000_000
