"""Per-client caps on live-room seats, so that one client cannot take an event's capacity.

A socket is held by a client known by its address (the ASGI scope's client, which uvicorn sets
from X-Forwarded-For only for the trusted proxies it is started with) and, for browsers, by
the signed attendee cookie the event page sets (liveroom/attendees.py). Each has a cap for the
whole deployment:

- an attendee (one browser): LIVE_SEATS_PER_ATTENDEE seats (a phone, a laptop, a TV);
- an address: LIVE_SEATS_PER_ADDRESS_PERCENT of the event's capacity, and never fewer than an
  attendee's cap: generous for shared networks (watch parties, offices, mobile carriers' NAT),
  yet one address cannot fill the room.

A cap of 0 turns it off (load tests from one machine). With Redis, each client's seats are a
hash per event and client (`pc:live:{id}:seat:<client>`, hash-tagged like the event's other
keys), one field per web process; a claim is one Lua call that drops the fields of processes
whose presence key expired (they died with their sockets), checks every cap, and counts the
seat everywhere or nowhere. Without Redis the counts live in this process.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis import Redis
from redis import asyncio as aioredis

from events import livebus

# Seat hashes outlive any socket; the presence check, not the expiry, drops dead processes.
SEAT_TTL_S = 2 * 24 * 3600

# KEYS: one seat hash per client key; ARGV: presence key prefix, this process, ttl s, one cap
# per key. Returns 0 when the seat was counted, else the 1-based index of the key at its cap.
_CLAIM_LUA = """
local prefix, me, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
for i, k in ipairs(KEYS) do
  local cap = tonumber(ARGV[3 + i])
  local total = 0
  local fields = redis.call('HGETALL', k)
  for j = 1, #fields, 2 do
    local pid = fields[j]
    if pid == me or redis.call('EXISTS', prefix .. pid) == 1 then
      total = total + tonumber(fields[j + 1])
    else
      redis.call('HDEL', k, pid)
    end
  end
  if total >= cap then return i end
end
for _, k in ipairs(KEYS) do
  redis.call('HINCRBY', k, me, 1)
  redis.call('EXPIRE', k, ttl)
end
return 0
"""

# KEYS: one seat hash; ARGV: presence key prefix. The seats held by live processes.
_HELD_LUA = """
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for j = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[1] .. fields[j]) == 1 then
    total = total + tonumber(fields[j + 1])
  end
end
return total
"""

# An attendee's seats are counted even with no cap on them: stream.json asks whether the
# browser holds one (liveroom/views.py).
UNCAPPED = 1_000_000_000

# KEYS: the seat hashes of a socket that left; ARGV: this process.
_RELEASE_LUA = """
for _, k in ipairs(KEYS) do
  if redis.call('HINCRBY', k, ARGV[1], -1) <= 0 then redis.call('HDEL', k, ARGV[1]) end
end
return 0
"""


@dataclass(frozen=True)
class Client:
    """Who holds a socket: its address, and its attendee id when the browser sent a valid
    attendee cookie."""

    address: str
    attendee: str | None = None


@dataclass(frozen=True)
class Caps:
    per_attendee: int  # 0: no cap
    per_address_percent: int  # 0 or 100: no cap

    def for_event(self, capacity: int) -> tuple[int, int]:
        """(attendee cap, address cap) for an event of `capacity`; 0 means none."""
        attendee = self.per_attendee
        if self.per_address_percent in (0, 100):
            return attendee, 0
        address = max(capacity * self.per_address_percent // 100, attendee, 1)
        return attendee, address


def _hashed(kind: str, value: str) -> str:
    # Addresses and attendee ids are not kept in Redis as they are.
    return kind + hashlib.blake2b(value.encode(), digest_size=12).hexdigest()


def client_keys(client: Client, caps: tuple[int, int]) -> list[tuple[str, int]]:
    """(key suffix, cap) for each capped identity of the client."""
    attendee_cap, address_cap = caps
    keys = []
    if address_cap:
        keys.append((_hashed("a", client.address), address_cap))
    if client.attendee:
        keys.append((attendee_key(client.attendee), attendee_cap or UNCAPPED))
    return keys


def attendee_key(attendee: str) -> str:
    return _hashed("t", attendee)


def redis_holds_seat(redis: Redis, *, event_id: int, attendee: str) -> bool:
    """Whether a live process of the deployment counts a seat of this attendee (one call)."""
    held = redis.register_script(_HELD_LUA)(
        keys=[livebus.key(event_id, f"seat:{attendee_key(attendee)}")],
        args=[livebus.key(event_id, "p:")],
    )
    return int(held) > 0


class RedisSeats:
    def __init__(self, redis: aioredis.Redis, *, pid: str) -> None:
        self.pid = pid
        self._claim = redis.register_script(_CLAIM_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    async def claim(self, event_id: int, keys: list[tuple[str, int]]) -> bool:
        if not keys:
            return True
        refused = await self._claim(
            keys=[livebus.key(event_id, f"seat:{suffix}") for suffix, _ in keys],
            args=[livebus.key(event_id, "p:"), self.pid, SEAT_TTL_S, *(cap for _, cap in keys)],
        )
        return int(refused) == 0

    async def release(self, event_id: int, keys: list[tuple[str, int]]) -> None:
        if keys:
            await self._release(
                keys=[livebus.key(event_id, f"seat:{suffix}") for suffix, _ in keys],
                args=[self.pid],
            )


class LocalSeats:
    """This process alone (no REDIS_URL)."""

    def __init__(self) -> None:
        self._held: dict[tuple[int, str], int] = {}

    async def claim(self, event_id: int, keys: list[tuple[str, int]]) -> bool:
        if any(self._held.get((event_id, suffix), 0) >= cap for suffix, cap in keys):
            return False
        for suffix, _ in keys:
            self._held[(event_id, suffix)] = self._held.get((event_id, suffix), 0) + 1
        return True

    def holds(self, event_id: int, attendee: str) -> bool:
        return self._held.get((event_id, attendee_key(attendee)), 0) > 0

    async def release(self, event_id: int, keys: list[tuple[str, int]]) -> None:
        for suffix, _ in keys:
            left = self._held.get((event_id, suffix), 0) - 1
            if left > 0:
                self._held[(event_id, suffix)] = left
            else:
                self._held.pop((event_id, suffix), None)
