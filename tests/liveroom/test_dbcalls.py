"""Clients' messages (votes, upvotes, questions) run on threads of their own: a message waiting
on the database never holds up the hub's own calls (the snapshot builds), and two messages do
not wait for each other."""

import asyncio
import threading

from asgiref.sync import async_to_sync

from liveroom.dbcalls import in_db_thread, in_message_thread


def wait_for(gate: threading.Event) -> str:
    assert gate.wait(timeout=10), "the test never opened the gate"
    return threading.current_thread().name


def own_thread() -> str:
    return threading.current_thread().name


def test_a_message_waiting_on_the_database_does_not_hold_up_the_hub_or_another_message():
    async def scenario() -> tuple[str, str, str]:
        gate = threading.Event()
        stuck = asyncio.ensure_future(in_message_thread(wait_for, gate=gate))
        # While that message waits, the hub's call and a second message both finish.
        hub = await asyncio.wait_for(in_db_thread(own_thread), timeout=5)
        other = await asyncio.wait_for(in_message_thread(own_thread), timeout=5)
        assert not stuck.done()
        gate.set()
        return hub, other, await asyncio.wait_for(stuck, timeout=5)

    hub, other, stuck = async_to_sync(scenario)()
    assert stuck.startswith("live-messages")
    assert other.startswith("live-messages")
    assert other != stuck
    assert not hub.startswith("live-messages")
