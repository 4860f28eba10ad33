"""Reactions through the live room: counted in the web process, flushed to Redis about once a
second, and shown on every page (of every web process) as aggregated bursts; bad reaction
messages get an error frame and count nothing."""

import asyncio
import json
import time

from asgiref.sync import async_to_sync

from engagement import reactions
from events.models import EventStatus
from liveroom.hub import close_hub
from liveroom.outbox import Outbox
from liveroom.reactions import ReactionRelay
from tests.factories import EventFactory
from tests.liveroom.hub.test_questions import ADA, BOB, frame_where
from tests.support.liveroom import (
    Communicator,
    next_snapshot,
    open_socket,
    wait_for_viewer_sample,
)

BAD = [
    {"type": "react"},
    {"type": "react", "counts": {"heart": 0}},
    {"type": "react", "counts": {"heart": 11}},
    {"type": "react", "counts": {"unicorn": 1}},
    {"type": "react", "counts": ["heart"]},
]


def bursts(frame: dict) -> bool:
    return frame.get("type") == "reactions"


def test_reactions_reach_every_page_as_bursts_and_bad_ones_count_nothing(live_redis):
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        ada, bob = Communicator(event.slug, cookies=ADA), Communicator(event.slug, cookies=BOB)
        for ws in (ada, bob):
            await ws.connect()
            await ws.receive_text()
        errors = []
        for message in BAD:
            await ada.send_text(json.dumps(message))
            errors.append(await frame_where(ada, lambda f: f.get("type") == "error"))
        for counts in ({"heart": 3}, {"heart": 2, "clap": 1}):
            await ada.send_text(json.dumps({"type": "react", "counts": counts}))
        seen: dict[str, int] = {}
        got = 0
        while sum(seen.values()) < 6:
            burst = await frame_where(bob, bursts)
            got += 1
            for name, n in burst["counts"].items():
                seen[name] = seen.get(name, 0) + n
        for ws in (ada, bob):
            await ws.disconnect()
        await close_hub()
        return errors, seen, got

    errors, seen, got = async_to_sync(scenario)()
    assert [e["code"] for e in errors] == ["bad_message"] * len(BAD)
    assert seen == {"heart": 5, "clap": 1}
    assert got <= 2  # one flush, or two if a second's boundary fell between the messages
    minute = reactions.minute_of(time.time())
    stored = {}
    for at in (minute - 1, minute):
        for name, n in live_redis.hgetall(reactions.minute_key(event.pk, at)).items():
            stored[name.decode()] = stored.get(name.decode(), 0) + int(n)
    assert stored == {"heart": 5, "clap": 1}


def test_a_reaction_on_one_web_process_reaches_a_page_on_the_other(web_processes):
    event = EventFactory(status=EventStatus.LIVE)
    first, second = web_processes

    async def scenario():
        ada = await open_socket(first, event.slug, cookies=ADA)
        bob = await open_socket(second, event.slug, cookies=BOB)
        await next_snapshot(ada)
        await next_snapshot(bob)
        await ada.send(json.dumps({"type": "react", "counts": {"tada": 4}}))
        deadline = time.monotonic() + 10
        while True:
            frame = json.loads(await asyncio.wait_for(bob.recv(), deadline - time.monotonic()))
            if bursts(frame):
                break
        await ada.close()
        await bob.close()
        return frame

    assert asyncio.run(scenario()) == {"type": "reactions", "counts": {"tada": 4}}
    wait_for_viewer_sample(event.pk)


def test_a_hub_sums_what_it_hears_into_one_burst_per_interval():
    sent = []

    async def send(message):
        sent.append(json.loads(message["text"]))

    async def scenario():
        tasks = []
        outbox = Outbox(send)
        relay = ReactionRelay(
            publish=None,
            rooms={7: {outbox: None}},
            spawn=lambda c: tasks.append(asyncio.ensure_future(c)),
        )
        for _ in range(100):  # a hundred processes' flushes in the same instant
            relay.heard(7, '{"heart":2,"fire":1}')
        relay.heard(8, '{"heart":1}')  # an event nobody here watches
        while not tasks:
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        return relay

    relay = asyncio.run(scenario())
    assert sent == [{"type": "reactions", "counts": {"heart": 200, "fire": 100}}]
    assert 8 not in relay.heard_counts
