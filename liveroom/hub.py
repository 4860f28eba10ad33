"""The per-process hub of the live room: admission, presence, coalescing and fan-out.

One hub per web process (per event loop). It replaces a channel-layer group per connection:

- Fan-out: the backend delivers every snapshot to the hub once per process (ONE Redis pub/sub
  subscription); the hub builds the ASGI message once and offers it to the one-slot outbox of
  each of its sockets for that event (liveroom/outbox.py).
- Coalescing: a change notice (from `events.livebus.publish_change`) makes every hub try to
  become the event's publisher for one interval (`SET NX PX`, 1/LIVE_SNAPSHOTS_PER_SECOND).
  The winner builds the snapshot from the database and publishes it once for the deployment;
  the others, and the winner itself, look again when the interval is over and publish once
  more if the change counter moved past the last snapshot's: the last change always gets out.
- Presence and admission: each hub counts its own sockets per event and, every third of
  LIVE_PRESENCE_TTL_SECONDS, reports the count with an expiry. Admission takes slots from a
  lease: the count plus spare slots (up to 0.5% of the capacity, at most an eighth of what is
  still free), so there is no Redis write per connection and the sum of all leases never
  exceeds the capacity.
- Connect: event facts and the latest snapshot are kept in memory; the database is read once
  per event per process (and again after a status change), never once per connection.
- Viewer samples (the staff dashboard's chart): offered at each presence report, recorded once
  per event per slot for the deployment (liveroom/samples.py).
- Reactions: counted per process, flushed once a second, shown as bursts
  (liveroom/reactions.py).
- Changes made by clients' messages (votes, upvotes, questions: liveroom/inbound.py) are told
  to every process at most once per NOTICE_EVERY_S per event from this process, the ones
  made meanwhile together at its end: a poll's thousand votes a second cost a few Redis
  commands a second, and the last change always gets out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist

from events import selectors as event_selectors
from events.selectors import LiveRoomEvent
from liveroom import snapshot as snapshots
from liveroom.backend import LocalBackend, RedisBackend, process_id
from liveroom.dbcalls import in_db_thread
from liveroom.outbox import Message, Outbox
from liveroom.reactions import ReactionRelay
from liveroom.samples import ViewerSampler
from liveroom.seats import Caps, Client, LocalSeats, RedisSeats, client_keys

SeatKeys = list[tuple[str, int]]

log = logging.getLogger(__name__)
T = TypeVar("T")

INFO_TTL_S = 30.0
MISSING_TTL_S = 5.0
FULL_RECHECK_S = 1.0
FANOUT_YIELD_EVERY = 1000
# Redis away this long: sockets are closed (1011) rather than left silent.
DOWN_GRACE_S = 3.0
CLOSE_VERSION = 2**62  # above any snapshot's: the outbox sends it whatever is pending
CLOSE_UNAVAILABLE: Message = {"type": "websocket.close", "code": 1011}
ERROR_RETRY_S = 1.0  # Redis or the database is back within seconds: so is the tally
NOTICE_EVERY_S = 0.1


class Hub:
    def __init__(
        self,
        backend: RedisBackend | LocalBackend,
        *,
        snapshots_per_second: int,
        presence_ttl_s: float,
        viewer_sample_s: float = 15.0,
        caps: Caps | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.backend = backend
        self.pid = process_id()
        self.interval_s = 1.0 / snapshots_per_second
        self.presence_ttl_s = presence_ttl_s
        self.samples = ViewerSampler(
            interval_s=viewer_sample_s,
            redis=backend.redis if isinstance(backend, RedisBackend) else None,
            spawn=self._spawn,
        )
        self.rooms: dict[int, dict[Outbox, None]] = {}
        self.latest: dict[int, tuple[int, Message, int]] = {}  # version, message, viewers
        self.counts: dict[int, int] = {}
        self.leases: dict[int, int] = {}
        self.capacity: dict[int, int] = {}
        self.started = asyncio.Event()
        self._info: dict[str, tuple[float, LiveRoomEvent | None]] = {}
        self._loading: dict[object, asyncio.Future[Any]] = {}
        self._admit_locks: dict[int, asyncio.Lock] = {}
        self._full_until: dict[int, float] = {}
        self._rechecks: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._presence: asyncio.Task[None] | None = None
        self._failures: dict[int, int] = {}  # event id → failed attempts in this outage
        # event id → the kind of change to tell when the current notice's wait is over (None:
        # nothing yet); an event is here while a notice of this process is in its wait.
        self._telling: dict[int, str | None] = {}
        self.caps = caps or Caps(per_attendee=0, per_address_percent=0)
        self.seats: RedisSeats | LocalSeats = (
            RedisSeats(backend.redis, pid=self.pid)
            if isinstance(backend, RedisBackend)
            else LocalSeats()
        )
        self.reactions = ReactionRelay(
            publish=backend.publish_reactions, rooms=self.rooms, spawn=self._spawn
        )

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.backend.start(self._on_wire)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.backend.subscribed.wait(), timeout=2)
        self._presence = asyncio.create_task(self._presence_loop(), name="live-hub-presence")
        self.reactions.start()
        self.started.set()
        log.info("live hub started", extra={"pid": self.pid})

    async def close(self) -> None:
        for handle in self._rechecks.values():
            handle.cancel()
        tasks = [t for t in (self._presence, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.reactions.close()
        await self.backend.close()

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _once(self, key: object, factory: Callable[[], Awaitable[T]]) -> T:
        """Run `factory()` once for concurrent callers with the same key (a burst of connects
        to a cold event shares one database read)."""
        future = self._loading.get(key)
        if future is None:
            future = asyncio.ensure_future(factory())
            self._loading[key] = future
            future.add_done_callback(lambda _f: self._loading.pop(key, None))
        return await asyncio.shield(future)

    # -- connect / disconnect ------------------------------------------------------------------
    async def event_info(self, slug: str) -> LiveRoomEvent | None:
        cached = self._info.get(slug)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]

        async def load() -> LiveRoomEvent | None:
            info = await in_db_thread(event_selectors.live_room_event, slug=slug)
            ttl = INFO_TTL_S if info is not None else MISSING_TTL_S
            self._info[slug] = (time.monotonic() + ttl, info)
            return info

        return await self._once(("info", slug), load)

    async def admit(self, info: LiveRoomEvent) -> bool:
        """Take one admission slot for the event, or False when it is at capacity."""
        eid = info.event_id
        if self.counts.get(eid, 0) < self.leases.get(eid, 0):
            self.counts[eid] = self.counts.get(eid, 0) + 1
            return True
        if self._full_until.get(eid, 0.0) > time.monotonic():
            return False  # refused a second ago: no Redis round trip per refused attempt
        async with self._lock(eid):
            self.capacity[eid] = info.capacity
            count = self.counts.get(eid, 0)
            if count >= self.leases.get(eid, 0):
                await self._report(eid, need=1)
            if count < self.leases.get(eid, 0):
                self.counts[eid] = self.counts.get(eid, 0) + 1
                return True
            self._full_until[eid] = time.monotonic() + FULL_RECHECK_S
            return False

    async def take_seat(self, info: LiveRoomEvent, client: Client) -> SeatKeys | None:
        """Count an admitted socket against its client's caps (liveroom/seats.py): the keys
        to give back when it leaves, or None when the client is at a cap (the caller gives
        the admission slot back)."""
        keys = client_keys(client, self.caps.for_event(info.capacity))
        if await self.seats.claim(info.event_id, keys):
            return keys
        return None

    def give_back_seat(self, event_id: int, keys: SeatKeys) -> None:
        if keys:
            self._spawn(self._release_seat(event_id, keys))

    async def _release_seat(self, event_id: int, keys: SeatKeys) -> None:
        try:
            await self.seats.release(event_id, keys)
        except Exception:
            # Left counted until this process's presence key expires (then dropped).
            log.warning("live seat not given back", extra={"event_id": event_id})

    async def snapshot(self, event_id: int) -> None:
        """Make sure the latest snapshot of the event is in memory (one read per process)."""
        if event_id in self.latest:
            return

        async def load() -> None:
            found = await self.backend.get_snapshot(event_id)
            if found is None:
                await self._publish(event_id)
            else:
                self._remember(event_id, *found)

        await self._once(("snap", event_id), load)

    def join(self, event_id: int, outbox: Outbox) -> None:
        """Add an admitted socket to the event's room and offer it the current snapshot."""
        self.rooms.setdefault(event_id, {})[outbox] = None
        latest = self.latest.get(event_id)
        if latest is not None:
            outbox.offer(latest[0], latest[1])

    def leave(self, event_id: int, outbox: Outbox | None) -> None:
        """Give back the admission slot of a socket that was admitted (joined or not)."""
        if outbox is not None:
            outbox.close()
            room = self.rooms.get(event_id)
            if room is not None:
                room.pop(outbox, None)
        self.counts[event_id] = max(0, self.counts.get(event_id, 0) - 1)

    # -- wire: notices and snapshots from the backend ------------------------------------------
    def _on_wire(self, wire: str) -> object:
        kind, _, rest = wire.partition("|")
        if kind == "s":
            eid_s, version_s, text = rest.split("|", 2)
            eid = int(eid_s)
            if eid in self.rooms or eid in self.latest:
                version = int(version_s)
                if self._remember(eid, version, text):
                    return self._fanout(eid)
            return None
        if kind == "c":
            eid_s, _, change = rest.partition("|")
            eid = int(eid_s)
            if change in ("status", "capacity"):  # the admission facts to read again
                for slug, (_, info) in list(self._info.items()):
                    if info is not None and info.event_id == eid:
                        del self._info[slug]
            self._on_change(eid)
            return None
        if kind == "x":  # a process's second of reactions
            eid_s, _, counts = rest.partition("|")
            self.reactions.heard(int(eid_s), counts)
            return None
        if kind == "r":  # (re)subscribed: snapshots may have been missed meanwhile
            for eid in set(self.rooms) | set(self.latest):
                self._spawn(self._resync(eid))
        if kind == "d":  # the subscription is lost (Redis away)
            self.loop.call_later(DOWN_GRACE_S, self._close_if_still_down)
        return None

    def _close_if_still_down(self) -> None:
        """Redis has been away for DOWN_GRACE_S: the sockets of this process get no snapshot
        meanwhile, so they are closed with 1011. Browsers say "reconnecting", read tally.json
        (from the database while Redis is away) and come back with their jittered backoff."""
        if self.backend.subscribed.is_set():
            return
        closing = sum(len(room) for room in self.rooms.values())
        log.warning("live room closing its sockets: Redis is away", extra={"sockets": closing})
        for room in list(self.rooms.values()):
            for outbox in list(room):
                outbox.offer(CLOSE_VERSION, CLOSE_UNAVAILABLE)

    def _remember(self, event_id: int, version: int, text: str) -> bool:
        current = self.latest.get(event_id)
        if current is not None and current[0] >= version:
            return False
        try:
            viewers = int(json.loads(text).get("viewers", 0))
        except (ValueError, AttributeError):
            viewers = 0
        self.latest[event_id] = (version, {"type": "websocket.send", "text": text}, viewers)
        return True

    async def _resync(self, event_id: int) -> None:
        try:
            found = await self.backend.get_snapshot(event_id)
        except Exception as exc:
            # Redis is back but this connection is not yet: again in a second.
            self._failed(event_id, "live resync failed", exc)
            self.loop.call_later(ERROR_RETRY_S, lambda: self._spawn(self._resync(event_id)))
            return
        if found is None:
            # Redis came back without its data (changes made meanwhile were never counted):
            # the ledger is the truth, so the snapshot is built from it again, once for the
            # deployment (the publisher token).
            await self._lead(event_id)
        elif self._remember(event_id, *found):
            await self._fanout(event_id)

    async def _fanout(self, event_id: int) -> None:
        latest = self.latest.get(event_id)
        room = self.rooms.get(event_id)
        if latest is None or not room:
            return
        version, message, _ = latest
        for i, outbox in enumerate(list(room)):
            outbox.offer(version, message)
            if i % FANOUT_YIELD_EVERY == FANOUT_YIELD_EVERY - 1:
                # Let connects, pings and the subscription breathe during a big room.
                await asyncio.sleep(0)
                if self.latest[event_id][0] != version:
                    return  # a newer snapshot started its own fan-out

    # -- changes made by clients' messages --------------------------------------------------
    def tell_soon(self, event_id: int, kind: str) -> None:
        """Tell every process that `kind` changed for the event (what
        `events.livebus.publish_change` does): now, or at the end of this process's current
        notice for the event, together with the other changes made meanwhile."""
        if event_id in self._telling:
            self._telling[event_id] = kind
            return
        self._telling[event_id] = None
        self._spawn(self._tell(event_id, kind))

    async def _tell(self, event_id: int, kind: str) -> None:
        try:
            await self.backend.notify(event_id, kind)
        except Exception as exc:
            # Redis away: the next snapshot after it returns carries the change.
            self._failed(event_id, "live change not published", exc)
        self.loop.call_later(NOTICE_EVERY_S, self._told, event_id)

    def _told(self, event_id: int) -> None:
        pending = self._telling.pop(event_id, None)
        if pending is not None:
            self.tell_soon(event_id, pending)

    # -- coalescing: one publisher per event per interval --------------------------------------
    def _on_change(self, event_id: int) -> None:
        if event_id in self._rechecks:
            return  # a look is already scheduled for the end of the interval
        self._spawn(self._lead(event_id))

    async def _lead(self, event_id: int) -> None:
        try:
            left_ms = await self.backend.try_lead(event_id, max(1, round(self.interval_s * 1000)))
            if left_ms:
                self._recheck_in(event_id, left_ms / 1000)
                return
            await self._publish(event_id)
            self._recovered(event_id)
            self._recheck_in(event_id, self.interval_s)
        except ObjectDoesNotExist:
            # The event was deleted: nothing to publish, and nothing to retry.
            log.info("live snapshot of a deleted event skipped", extra={"event_id": event_id})
        except Exception as exc:
            # Database or Redis trouble: try again in a second, not at the coalescing pace.
            self._failed(event_id, "live snapshot not published", exc)
            self._recheck_in(event_id, ERROR_RETRY_S)

    def _failed(self, event_id: int, what: str, exc: Exception) -> None:
        """An outage retries every second: its first failure is logged (with the traceback),
        the others counted and reported when it recovers."""
        if event_id not in self._failures:
            log.warning(what, extra={"event_id": event_id}, exc_info=exc)
        self._failures[event_id] = self._failures.get(event_id, 0) + 1

    def _recovered(self, event_id: int) -> None:
        failures = self._failures.pop(event_id, 0)
        if failures:
            log.info(
                "live room working again",
                extra={"event_id": event_id, "failed_attempts": failures},
            )

    def _recheck_in(self, event_id: int, delay_s: float) -> None:
        if event_id not in self._rechecks:
            self._rechecks[event_id] = self.loop.call_later(delay_s, self._recheck, event_id)

    def _recheck(self, event_id: int) -> None:
        self._rechecks.pop(event_id, None)

        async def look() -> None:
            try:
                if await self.backend.changes(event_id) > await self.backend.built(event_id):
                    await self._lead(event_id)
            except Exception as exc:
                self._failed(event_id, "live recheck failed", exc)
                self._recheck_in(event_id, ERROR_RETRY_S)

        self._spawn(look())

    async def _publish(self, event_id: int) -> None:
        """Build the snapshot from the database and publish it to every process."""
        seq = await self.backend.changes(event_id)
        viewers = await self._total_viewers(event_id)
        version = await self.backend.next_version(event_id)
        built = await in_db_thread(
            snapshots.build_snapshot, event_id=event_id, version=version, viewers=viewers
        )
        text = snapshots.encode(built)
        await self.backend.publish_snapshot(event_id, version, text, seq)
        # Our own copy may come back on the subscription after this: fan out now, once.
        if self._remember(event_id, version, text):
            await self._fanout(event_id)
        log.info("live snapshot published", extra={"event_id": event_id, "version": version})

    # -- presence ------------------------------------------------------------------------------
    def _lock(self, event_id: int) -> asyncio.Lock:
        """Held around every report of an event: the local lease must be the one Redis holds
        (replies on different pooled connections could otherwise be applied out of order)."""
        return self._admit_locks.setdefault(event_id, asyncio.Lock())

    async def _report(self, event_id: int, *, need: int) -> int:
        """Report this process's count (caller holds `_lock`); returns the viewer total."""
        lease, total = await self.backend.report(
            event_id,
            pid=self.pid,
            count=self.counts.get(event_id, 0),
            need=need,
            capacity=self.capacity.get(event_id, 0),
            ttl_ms=round(self.presence_ttl_s * 1000),
        )
        self.leases[event_id] = lease
        return total

    async def _total_viewers(self, event_id: int) -> int:
        async with self._lock(event_id):
            return await self._report(event_id, need=0)

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(self.presence_ttl_s / 3)
            # Expired event facts go (connects to made-up slugs must not grow memory).
            now = time.monotonic()
            for slug, (until, _) in list(self._info.items()):
                if until <= now:
                    del self._info[slug]
            for eid in list(self.capacity):
                try:
                    await self._presence_tick(eid)
                    self._recovered(eid)
                except Exception as exc:
                    self._failed(eid, "live presence report failed", exc)

    async def _presence_tick(self, event_id: int) -> None:
        async with self._lock(event_id):
            total = await self._report(event_id, need=0)
            self.samples.offer(event_id, total)
            latest = self.latest.get(event_id)
            if self.counts.get(event_id, 0) == 0 and not self.rooms.get(event_id):
                # Nobody here any more: forget the event (its lease was just given back). Under
                # the lock, so an admission waiting for it finds a consistent state after.
                for table in (
                    self.rooms, self.latest, self.counts, self.leases, self.capacity,
                    self._full_until,
                ):  # fmt: skip
                    table.pop(event_id, None)
                self.samples.forget(event_id)
                self.reactions.forget(event_id)
        if latest is not None and latest[2] != total:
            await self.backend.notify(event_id, "viewers")


_hub: Hub | None = None


async def get_hub() -> Hub:
    """The hub of the running event loop, started on first use."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop:
        backend: RedisBackend | LocalBackend
        if settings.REDIS_URL:
            backend = RedisBackend(pool_size=settings.LIVE_REDIS_POOL_SIZE)
        else:
            backend = LocalBackend()
        _hub = Hub(
            backend,
            snapshots_per_second=settings.LIVE_SNAPSHOTS_PER_SECOND,
            presence_ttl_s=settings.LIVE_PRESENCE_TTL_SECONDS,
            viewer_sample_s=settings.LIVE_VIEWER_SAMPLE_SECONDS,
            caps=Caps(
                per_attendee=settings.LIVE_SEATS_PER_ATTENDEE,
                per_address_percent=settings.LIVE_SEATS_PER_ADDRESS_PERCENT,
            ),
        )
        hub = _hub
        await hub.start()
        return hub
    hub = _hub
    await hub.started.wait()
    return hub


def local_seats() -> LocalSeats | None:
    """Embedded mode: this process's seat counts (the running hub's), for stream.json's
    threads; None before any socket connected."""
    hub = _hub
    return hub.seats if hub is not None and isinstance(hub.seats, LocalSeats) else None


async def close_hub() -> None:
    """Stop this loop's hub (tests, shutdown). The next `get_hub()` starts a fresh one."""
    global _hub
    hub, _hub = _hub, None
    if hub is not None and hub.loop is asyncio.get_running_loop():
        await hub.close()
