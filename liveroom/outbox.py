"""A one-slot outbox per socket: newest wins, nothing queues behind a slow client.

The hub offers each snapshot to every outbox in a plain loop. An idle outbox starts the ASGI
`send` at once; a busy one (its previous send is still waiting for the client to drain)
keeps only the newest unsent snapshot in its single slot, replacing an older one. So a slow
client costs at most one pending message and never delays the others.

Messages that are not snapshots go apart from them: a reply to this client's own message
(`push`) into a short queue (SIDE_SLOTS, sent in order; the client's inbound rate limit keeps
it short, and only a client flooding past it loses its oldest replies), and a burst of
reactions (`push_burst`) into a slot of its own where the newest replaces an older one (a
burst is decoration: under backpressure only the latest is worth showing, and it never pushes
a reply, such as a vote's ack, out of the queue). Replies go first, then the burst, then the
pending snapshot: every frame of a socket leaves through its outbox, one ASGI `send` at a time.

Why the send is driven by hand instead of in a task: with uvicorn (and any server whose
`send` only waits when the transport is paused) the send completes without suspending, and a
task per socket per broadcast would cost more than the send itself. `_drive` runs the
coroutine until it either finishes (the common case, synchronous) or waits on a future; only
then is it resumed from that future's callback, as asyncio's Task would (Python 3.12's eager
tasks do the same). The coroutine must only await asyncio futures, as ASGI servers' do.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

Message = dict[str, Any]

SIDE_SLOTS = 16  # replies waiting behind a slow client's send


class Outbox:
    __slots__ = (
        "_burst", "_busy", "_pending", "_send", "_side", "closed", "replaced", "sent", "version"
    )  # fmt: skip

    def __init__(self, send: Callable[[Message], Awaitable[None]]) -> None:
        self._send = send
        self._busy = False
        self._pending: tuple[int, Message] | None = None
        self._side: deque[Message] | None = None  # made on first use: most sockets never need it
        self._burst: Message | None = None  # the newest reaction burst waiting
        self.closed = False
        self.version = 0  # the highest version handed to the server
        self.sent = 0
        self.replaced = 0  # snapshots dropped because a newer one came before they went

    def offer(self, version: int, message: Message) -> None:
        """Send `message` (carrying snapshot `version`) now, or keep it as the newest pending
        one. Older or equal versions than what was already handed over are dropped."""
        if self.closed or version <= self.version:
            return
        if self._busy:
            if self._pending is not None:
                self.replaced += 1
            if self._pending is None or self._pending[0] < version:
                self._pending = (version, message)
            return
        self._start(version, message)

    def push(self, message: Message) -> None:
        """Send `message` (not a snapshot) now, or after what is being sent; of those waiting
        behind a slow client, the oldest is dropped past SIDE_SLOTS."""
        if self.closed:
            return
        if self._busy:
            if self._side is None:
                self._side = deque(maxlen=SIDE_SLOTS)
            elif len(self._side) == SIDE_SLOTS:
                self.replaced += 1
            self._side.append(message)
            return
        self._busy = True
        self._drive(self._send(message))  # type: ignore[arg-type]

    def push_burst(self, message: Message) -> None:
        """Send a reaction burst now, or, behind a busy send, keep it in place of an older
        one still waiting (replies waiting go first)."""
        if self.closed:
            return
        if self._busy:
            if self._burst is not None:
                self.replaced += 1
            self._burst = message
            return
        self._busy = True
        self._drive(self._send(message))  # type: ignore[arg-type]

    def close(self) -> None:
        self.closed = True
        self._pending = None
        self._side = None
        self._burst = None

    @property
    def busy(self) -> bool:
        return self._busy

    def _start(self, version: int, message: Message) -> None:
        self._busy = True
        self.version = version
        coro = self._send(message)
        self._drive(coro)  # type: ignore[arg-type]

    def _drive(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            self._finished()
            return
        except Exception:
            # The client is gone (the server raises on send to a closed socket).
            self._busy = False
            self.close()
            return
        if isinstance(waiting_on, asyncio.Future):
            # What a Task does with a future a coroutine yields: wait for it, then resume.
            waiting_on._asyncio_future_blocking = False
            waiting_on.add_done_callback(lambda _f: self._drive(coro))
        else:  # a bare yield (asyncio.sleep(0)): resume on the next loop iteration
            asyncio.get_running_loop().call_soon(self._drive, coro)

    def _finished(self) -> None:
        self._busy = False
        self.sent += 1
        if self.closed:
            return
        if self._side:
            self._busy = True
            self._drive(self._send(self._side.popleft()))  # type: ignore[arg-type]
            return
        if self._burst is not None:
            burst, self._burst = self._burst, None
            self._busy = True
            self._drive(self._send(burst))  # type: ignore[arg-type]
            return
        pending, self._pending = self._pending, None
        if pending is not None:
            self._start(*pending)
