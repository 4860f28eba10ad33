"""A one-slot outbox per socket: newest wins, nothing queues behind a slow client.

The hub offers each snapshot to every outbox in a plain loop. An idle outbox starts the ASGI
`send` at once; a busy one (its previous send is still waiting for the client to drain)
keeps only the newest unsent snapshot in its single slot, replacing an older one. So a slow
client costs at most one pending message and never delays the others.

Messages that are not snapshots (a reply to this client's own message, a burst of reactions)
go through `push`, into a short queue of their own (SIDE_SLOTS; a slow client loses the
oldest), sent in order before the pending snapshot: every frame of a socket leaves through its
outbox, one ASGI `send` at a time.

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

SIDE_SLOTS = 8  # replies and reaction bursts waiting behind a slow client's send


class Outbox:
    __slots__ = ("_busy", "_pending", "_send", "_side", "closed", "replaced", "sent", "version")

    def __init__(self, send: Callable[[Message], Awaitable[None]]) -> None:
        self._send = send
        self._busy = False
        self._pending: tuple[int, Message] | None = None
        self._side: deque[Message] | None = None  # made on first use: most sockets never need it
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

    def close(self) -> None:
        self.closed = True
        self._pending = None
        self._side = None

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
        pending, self._pending = self._pending, None
        if pending is not None:
            self._start(*pending)
