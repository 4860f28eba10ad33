"""The one-slot outbox: a slow client holds at most the newest unsent snapshot."""

import asyncio

from liveroom.outbox import SIDE_SLOTS, Outbox


class SlowClient:
    """An ASGI `send` whose socket does not drain until the test opens the gate, as
    uvicorn's send waits while the transport is paused."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.received: list[str] = []

    async def send(self, message: dict) -> None:
        await self.gate.wait()
        self.received.append(message["text"])


class FastClient:
    def __init__(self) -> None:
        self.received: list[str] = []

    async def send(self, message: dict) -> None:
        self.received.append(message["text"])


def snapshot(version: int) -> dict:
    return {"type": "websocket.send", "text": f'{{"version":{version}}}'}


def test_a_slow_client_gets_only_the_newest_of_the_snapshots_it_could_not_take():
    async def scenario():
        slow, fast = SlowClient(), FastClient()
        slow_box, fast_box = Outbox(slow.send), Outbox(fast.send)
        for version in range(1, 6):
            slow_box.offer(version, snapshot(version))
            fast_box.offer(version, snapshot(version))
        blocked = (slow_box.busy, list(slow.received), list(fast.received))
        slow.gate.set()
        for _ in range(10):
            await asyncio.sleep(0)
        return blocked, slow.received, slow_box.replaced, slow_box.busy

    blocked, received, replaced, busy = asyncio.run(scenario())
    busy_while_blocked, slow_before, fast_before = blocked
    # The fast client got all five at once, without waiting for the slow one.
    assert fast_before == [f'{{"version":{v}}}' for v in range(1, 6)]
    assert busy_while_blocked is True
    assert slow_before == []
    # The slow one: the one in flight, then only the newest; 2, 3 and 4 were replaced.
    assert received == ['{"version":1}', '{"version":5}']
    assert replaced == 3
    assert busy is False


def test_an_outbox_never_sends_an_older_version_than_it_already_sent():
    async def scenario():
        client = FastClient()
        box = Outbox(client.send)
        box.offer(7, snapshot(7))
        box.offer(6, snapshot(6))
        box.offer(7, snapshot(7))
        return client.received

    assert asyncio.run(scenario()) == ['{"version":7}']


def test_an_outbox_whose_client_is_gone_closes_and_drops_what_follows():
    async def scenario():
        async def gone(message: dict) -> None:
            raise OSError("client disconnected")

        box = Outbox(gone)
        box.offer(1, snapshot(1))
        box.offer(2, snapshot(2))
        return box.closed, box.sent

    assert asyncio.run(scenario()) == (True, 0)


def side(n: int) -> dict:
    return {"type": "websocket.send", "text": f'{{"type":"ack","n":{n}}}'}


def test_pushed_frames_wait_in_order_behind_a_busy_send_and_go_before_the_pending_snapshot():
    async def scenario():
        slow = SlowClient()
        box = Outbox(slow.send)
        box.offer(1, snapshot(1))  # in flight
        box.offer(2, snapshot(2))  # pending
        box.push(side(1))
        box.push(side(2))
        slow.gate.set()
        for _ in range(10):
            await asyncio.sleep(0)
        return slow.received, box.version

    received, version = asyncio.run(scenario())
    assert received == [
        '{"version":1}',
        '{"type":"ack","n":1}',
        '{"type":"ack","n":2}',
        '{"version":2}',
    ]
    assert version == 2


def test_a_slow_client_keeps_only_the_newest_pushed_frames():
    async def scenario():
        slow = SlowClient()
        box = Outbox(slow.send)
        box.offer(1, snapshot(1))
        for n in range(SIDE_SLOTS + 3):
            box.push(side(n))
        slow.gate.set()
        for _ in range(30):
            await asyncio.sleep(0)
        return slow.received, box.replaced

    received, replaced = asyncio.run(scenario())
    assert received == ['{"version":1}'] + [
        f'{{"type":"ack","n":{n}}}' for n in range(3, SIDE_SLOTS + 3)
    ]
    assert replaced == 3


def burst(n: int) -> dict:
    return {"type": "websocket.send", "text": f'{{"type":"reactions","n":{n}}}'}


def test_reaction_bursts_never_push_a_reply_out_and_only_the_newest_waits():
    """A slow client with a vote's ack waiting and a storm of reaction bursts behind it: the
    ack goes out, then only the newest burst, then the pending snapshot."""

    async def scenario():
        slow = SlowClient()
        box = Outbox(slow.send)
        box.offer(1, snapshot(1))  # in flight
        box.push(side(1))  # the ack of the client's vote
        for n in range(SIDE_SLOTS * 3):
            box.push_burst(burst(n))
        box.offer(2, snapshot(2))
        slow.gate.set()
        for _ in range(20):
            await asyncio.sleep(0)
        return slow.received, box.replaced

    received, replaced = asyncio.run(scenario())
    last = SIDE_SLOTS * 3 - 1
    assert received == [
        '{"version":1}',
        '{"type":"ack","n":1}',
        f'{{"type":"reactions","n":{last}}}',
        '{"version":2}',
    ]
    assert replaced == last
