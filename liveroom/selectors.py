"""Synchronous reads of the live room, for HTTP views (tally.json)."""

from __future__ import annotations

import redis
from django.conf import settings

from events import livebus, redisclients
from liveroom import backend, hub, seats, snapshot


def current_snapshot(*, event_id: int) -> tuple[int, str]:
    """(version, JSON text) of the event's latest snapshot: one Redis read. When no snapshot
    exists yet (nobody has watched the event), one is built from the database and stored, so
    the WebSocket hubs and this view agree on versions. Raises redis.RedisError if Redis is
    configured and down."""
    if settings.REDIS_URL:
        client = redisclients.sync_client()
        raw = client.get(livebus.key(event_id, "snap"))
        if raw is not None:
            stored_version, _, stored = backend.as_text(raw).partition("|")
            return int(stored_version), stored
        return _build_and_store(client, event_id)
    with backend._local_lock:
        found = backend.LOCAL_SNAPSHOTS.get(event_id)
        if found is not None:
            return found
        version = backend.time_version(0)
        text = snapshot.encode(
            snapshot.build_snapshot(event_id=event_id, version=version, viewers=0)
        )
        backend.LOCAL_SNAPSHOTS[event_id] = (version, text)
        return version, text


def _build_and_store(client: redis.Redis, event_id: int) -> tuple[int, str]:
    next_version = client.register_script(backend.NEXT_VERSION_LUA)
    key = livebus.key(event_id, "version")
    version = int(next_version(keys=[key], args=[backend.SNAPSHOT_TTL_S]))
    text = snapshot.encode(snapshot.build_snapshot(event_id=event_id, version=version, viewers=0))
    # Only if still missing: a hub may have published a newer one meanwhile.
    if client.set(
        livebus.key(event_id, "snap"), f"{version}|{text}", nx=True, ex=backend.SNAPSHOT_TTL_S
    ):
        return version, text
    raw = client.get(livebus.key(event_id, "snap"))
    if raw is None:
        return version, text
    stored_version, _, stored = backend.as_text(raw).partition("|")
    return int(stored_version), stored


def attendee_holds_seat(*, event_id: int, attendee: str | None) -> bool:
    """Whether the browser with this attendee id holds a live-room seat of the event now (the
    live room admitted it and it is still connected). Raises redis.RedisError if Redis is
    configured and down."""
    if attendee is None:
        return False
    if settings.REDIS_URL:
        return seats.redis_holds_seat(
            redisclients.sync_client(), event_id=event_id, attendee=attendee
        )
    local = hub.local_seats()
    return local is not None and local.holds(event_id, attendee)
