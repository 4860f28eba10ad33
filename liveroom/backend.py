"""Where the hubs of all web processes meet: Redis, or this process alone (embedded default).

Both backends have the same interface, so the hub does not know which it runs on:

- `start(on_wire)`: deliver every wire message (`c|…` change notices, `s|…` snapshots) to
  `on_wire(text)` in the event loop. Redis: ONE pub/sub subscription for the whole process.
- `try_lead(event_id, ms)`: the per-event publisher token (`SET NX PX`): who wins may publish
  one snapshot now, and nobody else may until it expires. Returns 0 when won, else the ms left.
- `changes / built / next_version / publish_snapshot / get_snapshot`: the change counter that
  `events.livebus` bumps, the counter value the last snapshot was built from, the deployment-
  wide snapshot version, and the latest snapshot itself (also read by tally.json).
- `report(...)`: this process's viewer count and admission lease, with an expiry; returns
  the lease granted and the deployment-wide viewer count.
- `publish_reactions(event_id, counts, minute)`: a process's second of reactions, counted in
  the event's minute (engagement.reactions) and delivered to every hub as `x|<id>|<json>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from engagement import reactions
from events import livebus, redisclients

log = logging.getLogger(__name__)

SNAPSHOT_TTL_S = 7 * 24 * 3600

# Sets this process's viewer count and admission lease and returns [lease, total viewers].
# The lease is what the process may admit without asking again: its count, plus `need` (1 when
# admitting), plus spare slots (up to `block`, and at most an eighth of what is still free, so
# spares shrink as the event fills up). The sum of all live leases never exceeds the capacity,
# which is what bounds admission across processes. A process whose key expired (it died) is
# dropped from the set, and its lease and viewers with it.
# KEYS[1] procs set; ARGV: key prefix, pid, count, need, block, capacity, ttl ms.
_REPORT_LUA = """
local prefix, me = ARGV[1], ARGV[2]
local n, need, block = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cap, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
local others, total = 0, n
for _, p in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if p ~= me then
    local v = redis.call('HMGET', prefix .. p, 'lease', 'n')
    if v[1] then
      others = others + tonumber(v[1])
      total = total + tonumber(v[2])
    else
      redis.call('SREM', KEYS[1], p)
    end
  end
end
local room = cap - others
local spare = math.min(block, math.floor(math.max(0, room - n - need) / 8))
if n + need == 0 then spare = 0 end  -- nobody here: give everything back
local lease = math.max(0, math.min(n + need + spare, room))
redis.call('HSET', prefix .. me, 'lease', lease, 'n', n)
redis.call('PEXPIRE', prefix .. me, ttl)
redis.call('SADD', KEYS[1], me)
redis.call('PEXPIRE', KEYS[1], ttl * 4)
return {lease, total}
"""

# Stores the snapshot unless a newer one is there, records the counter it was built from,
# and publishes it. KEYS: snap, built; ARGV: version, json, changes seen, wire message, ttl s,
# channel.
PUBLISH_LUA = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+)|'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[5])
local built = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[3]) > built then redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[5]) end
redis.call('PUBLISH', ARGV[6], ARGV[4])
return 1
"""


# The next snapshot version of an event: one more than the last, and never less than Redis's
# clock in milliseconds. So versions keep increasing even after Redis lost its data (a restart
# without persistence): hubs and browsers that keep the highest version accept the new ones.
# KEYS[1] version counter; ARGV[1] ttl s.
NEXT_VERSION_LUA = """
local v = redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if v < now then
  v = now
  redis.call('SET', KEYS[1], v)
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return v
"""


def time_version(previous: int) -> int:
    """Embedded mode's equivalent of NEXT_VERSION_LUA."""
    return max(previous + 1, time.time_ns() // 1_000_000)


def lease_block(capacity: int) -> int:
    """The most spare admission slots a process holds: 0.5% of the capacity."""
    return max(1, capacity // 200)


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def as_text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def snapshot_wire(event_id: int, version: int, text: str) -> str:
    return f"s|{event_id}|{version}|{text}"


def reactions_wire(event_id: int, counts: dict[str, int]) -> str:
    return f"x|{event_id}|{json.dumps(counts, separators=(',', ':'))}"


class RedisBackend:
    """The hubs of all web processes, through one Redis (or a Cluster: keys are hash-tagged)."""

    def __init__(self, *, pool_size: int) -> None:
        self.redis = redisclients.hub_client(pool_size=pool_size)
        self._report = self.redis.register_script(_REPORT_LUA)
        self._publish = self.redis.register_script(PUBLISH_LUA)
        self._next_version = self.redis.register_script(NEXT_VERSION_LUA)
        self._listener: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.channel = livebus.channel()

    async def start(self, on_wire: Callable[[str], object]) -> None:
        self._listener = asyncio.create_task(self._listen(on_wire), name="live-hub-subscription")

    async def _listen(self, on_wire: Callable[[str], object]) -> None:
        delay = 0.1
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                delay = 0.1
                # After a reconnect, snapshots may have been missed: ask for a resync.
                result = on_wire("r")
                if asyncio.iscoroutine(result):
                    await result
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None or message["type"] != "message":
                        continue
                    result = on_wire(message["data"].decode())
                    if asyncio.iscoroutine(result):
                        await result
            except asyncio.CancelledError:
                raise
            except Exception:
                if self.subscribed.is_set():
                    log.warning("live subscription lost, retrying")
                    self.subscribed.clear()
                    on_wire("d")  # down: the hub tells its sockets if it lasts
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)  # back within a second of Redis's return
            finally:
                try:
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                except Exception:
                    log.debug("live subscription close failed")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.redis.aclose(close_connection_pool=True)

    async def notify(self, event_id: int, kind: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(livebus.key(event_id, "changes"))
        pipe.expire(livebus.key(event_id, "changes"), SNAPSHOT_TTL_S)
        pipe.publish(self.channel, livebus.notice(event_id, kind))
        await pipe.execute()

    async def try_lead(self, event_id: int, ms: int) -> int:
        k = livebus.key(event_id, "lead")
        if await self.redis.set(k, b"1", nx=True, px=ms):
            return 0
        left = await self.redis.pttl(k)
        return max(int(left), 1)

    async def changes(self, event_id: int) -> int:
        return int(await self.redis.get(livebus.key(event_id, "changes")) or 0)

    async def built(self, event_id: int) -> int:
        return int(await self.redis.get(livebus.key(event_id, "built")) or 0)

    async def next_version(self, event_id: int) -> int:
        version = await self._next_version(
            keys=[livebus.key(event_id, "version")], args=[SNAPSHOT_TTL_S]
        )
        return int(version)

    async def publish_snapshot(self, event_id: int, version: int, text: str, seq: int) -> None:
        await self._publish(
            keys=[livebus.key(event_id, "snap"), livebus.key(event_id, "built")],
            args=[
                version,
                text,
                seq,
                snapshot_wire(event_id, version, text),
                SNAPSHOT_TTL_S,
                self.channel,
            ],
        )

    async def publish_reactions(self, event_id: int, counts: dict[str, int], minute: int) -> None:
        """A process's second of reactions: counted in the event's minute and told to every
        hub, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        reactions.add_count_commands(pipe, event_id=event_id, counts=counts, minute=minute)
        pipe.publish(self.channel, reactions_wire(event_id, counts))
        await pipe.execute()

    async def get_snapshot(self, event_id: int) -> tuple[int, str] | None:
        raw = await self.redis.get(livebus.key(event_id, "snap"))
        if raw is None:
            return None
        version, _, text = as_text(raw).partition("|")
        return int(version), text

    async def report(
        self, event_id: int, *, pid: str, count: int, need: int, capacity: int, ttl_ms: int
    ) -> tuple[int, int]:
        lease, total = await self._report(
            keys=[livebus.key(event_id, "procs")],
            args=[
                livebus.key(event_id, "p:"), pid, count, need, lease_block(capacity),
                capacity, ttl_ms,
            ],
        )  # fmt: skip
        return int(lease), int(total)


# Embedded mode: the latest snapshot per event, shared with the tally.json view's threads.
_local_lock = threading.Lock()
LOCAL_SNAPSHOTS: dict[int, tuple[int, str]] = {}
# ... and the change count each was built from (events.livebus.local_changes).
LOCAL_BUILT: dict[int, int] = {}


class LocalBackend:
    """This process alone (no REDIS_URL): the same interface, in memory."""

    def __init__(self) -> None:
        self._on_wire: Callable[[str], object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lead_until: dict[int, float] = {}
        self._built: dict[int, int] = {}
        self._versions: dict[int, int] = {}
        self.subscribed = asyncio.Event()
        self._pending: set[asyncio.Task[object]] = set()

    async def start(self, on_wire: Callable[[str], object]) -> None:
        self._on_wire = on_wire
        self._loop = asyncio.get_running_loop()
        livebus.add_local_listener(self._from_thread)
        self.subscribed.set()

    def _from_thread(self, event_id: int, kind: str) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, livebus.notice(event_id, kind))

    def _deliver(self, wire: str) -> None:
        if self._on_wire is None:
            return
        result = self._on_wire(wire)
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        livebus.remove_local_listener(self._from_thread)
        self._on_wire = None

    async def notify(self, event_id: int, kind: str) -> None:
        livebus.publish_change(event_id=event_id, kind=kind)  # type: ignore[arg-type]

    async def try_lead(self, event_id: int, ms: int) -> int:
        now = time.monotonic()
        until = self._lead_until.get(event_id, 0.0)
        if until > now:
            return max(int((until - now) * 1000), 1)
        self._lead_until[event_id] = now + ms / 1000
        return 0

    async def changes(self, event_id: int) -> int:
        return livebus.local_changes(event_id)

    async def built(self, event_id: int) -> int:
        return self._built.get(event_id, 0)

    async def next_version(self, event_id: int) -> int:
        with _local_lock:
            current = max(self._versions.get(event_id, 0), LOCAL_SNAPSHOTS.get(event_id, (0,))[0])
            self._versions[event_id] = version = time_version(current)
        return version

    async def publish_snapshot(self, event_id: int, version: int, text: str, seq: int) -> None:
        with _local_lock:
            if LOCAL_SNAPSHOTS.get(event_id, (0, ""))[0] >= version:
                return
            LOCAL_SNAPSHOTS[event_id] = (version, text)
            LOCAL_BUILT[event_id] = max(seq, LOCAL_BUILT.get(event_id, 0))
        self._built[event_id] = max(seq, self._built.get(event_id, 0))
        self._deliver(snapshot_wire(event_id, version, text))

    async def publish_reactions(self, event_id: int, counts: dict[str, int], minute: int) -> None:
        reactions.count_locally(event_id=event_id, counts=counts, minute=minute)
        self._deliver(reactions_wire(event_id, counts))

    async def get_snapshot(self, event_id: int) -> tuple[int, str] | None:
        with _local_lock:
            return LOCAL_SNAPSHOTS.get(event_id)

    async def report(
        self, event_id: int, *, pid: str, count: int, need: int, capacity: int, ttl_ms: int
    ) -> tuple[int, int]:
        return capacity, count  # one process: all of the capacity is its own
