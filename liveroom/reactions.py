"""Reactions through the hub: counted per process, flushed about once a second, shown to every
page as aggregated bursts, at most BURSTS_PER_SECOND a second per event.

- `add(event_id, counts)`: what a socket sent (engagement.reactions checked it): a dict update
  in memory; no Redis or database call per reaction.
- Every FLUSH_S, for each event with counts, ONE Redis round trip (the backend's
  `publish_reactions`): the event's per-minute counts (engagement.reactions) and a wire message
  `x|<event id>|{"heart": 3, …}` on the live room's channel. Redis commands per process per
  second: at most 8 per event with reactions, whatever the number of sockets.
- Every hub hears every process's counts (`heard`) and sums them per event; a burst
  `{"type": "reactions", "counts": {…}}` goes to its sockets' outboxes at most every
  1/BURSTS_PER_SECOND. Reactions are moments, not state: a slow client may miss one, and a
  flush that fails (Redis away) drops its second of reactions, with a warning.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from events import ratelimits
from liveroom import snapshot as snapshots
from liveroom.outbox import Message, Outbox

log = logging.getLogger(__name__)

FLUSH_S = 1.0
BURSTS_PER_SECOND = 2
FANOUT_YIELD_EVERY = 1000

Counts = dict[str, int]
Publish = Callable[[int, Counts, int], Coroutine[Any, Any, None]]
Spawn = Callable[[Coroutine[Any, Any, object]], None]


class ReactionRelay:
    def __init__(
        self, *, publish: Publish, rooms: dict[int, dict[Outbox, None]], spawn: Spawn
    ) -> None:
        self.publish = publish  # the backend's publish_reactions(event_id, counts, minute)
        self.rooms = rooms  # the hub's sockets per event
        self.spawn = spawn  # the hub's: its tasks are kept and cancelled with it
        self.counted: dict[int, Counts] = {}  # since the last flush, from this process's sockets
        self.heard_counts: dict[int, Counts] = {}  # since the last burst, from every process
        self.last_burst: dict[int, float] = {}
        self.scheduled: set[int] = set()
        self.dropped = 0  # reactions lost to failed flushes
        self._loop: asyncio.Task[None] | None = None
        self._warn = ratelimits.Throttle(60)

    def start(self) -> None:
        self._loop = asyncio.create_task(self._flush_loop(), name="live-hub-reactions")

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)

    def forget(self, event_id: int) -> None:
        """Nobody of this process watches the event any more."""
        self.last_burst.pop(event_id, None)
        self.heard_counts.pop(event_id, None)

    def add(self, event_id: int, counts: Counts) -> None:
        kept = self.counted.setdefault(event_id, {})
        for name, n in counts.items():
            kept[name] = kept.get(name, 0) + n

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            await self.flush()

    async def flush(self) -> None:
        """Send what this process counted since the last flush: one round trip per event."""
        counted, self.counted = self.counted, {}
        minute = int(time.time() // 60)
        for event_id, counts in counted.items():
            try:
                await self.publish(event_id, counts, minute)
            except Exception as exc:
                self.dropped += sum(counts.values())
                if self._warn.due():
                    log.warning(
                        "live reactions not flushed",
                        extra={"event_id": event_id, "error": type(exc).__name__,
                               "dropped": self.dropped},
                    )  # fmt: skip

    def heard(self, event_id: int, text: str) -> None:
        """A process's flushed counts, from the wire: summed into the event's next burst."""
        if event_id not in self.rooms:
            return
        try:
            counts = json.loads(text)
        except ValueError:
            return
        kept = self.heard_counts.setdefault(event_id, {})
        for name, n in counts.items():
            if isinstance(n, int):
                kept[name] = kept.get(name, 0) + n
        if event_id not in self.scheduled:
            self.scheduled.add(event_id)
            due = self.last_burst.get(event_id, 0.0) + 1 / BURSTS_PER_SECOND
            delay = max(0.0, due - time.monotonic())
            loop = asyncio.get_running_loop()
            loop.call_later(delay, lambda: self.spawn(self._burst(event_id)))

    async def _burst(self, event_id: int) -> None:
        self.scheduled.discard(event_id)
        counts = self.heard_counts.pop(event_id, None)
        room = self.rooms.get(event_id)
        if not counts or not room:
            return
        self.last_burst[event_id] = time.monotonic()
        message: Message = {
            "type": "websocket.send",
            "text": snapshots.encode({"type": "reactions", "counts": counts}),
        }
        for i, outbox in enumerate(list(room)):
            outbox.push_burst(message)
            if i % FANOUT_YIELD_EVERY == FANOUT_YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let connects and snapshots breathe in a big room
