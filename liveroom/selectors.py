"""Synchronous reads of the live room, for HTTP views (tally.json)."""

from __future__ import annotations

import logging

import redis
from django.conf import settings

from events import livebus, ratelimits, redisclients
from liveroom import backend, hub, seats, snapshot

log = logging.getLogger(__name__)


def current_snapshot(*, event_id: int) -> tuple[int, str]:
    """(version, JSON text) of the event's snapshot as the ledger has it now, for tally.json.

    Usually one Redis round trip: the stored snapshot, when it was built from the event's
    latest change. When changes came since (no web process runs a hub for the event, e.g.
    right after a restart, or none had a viewer) or nothing was stored yet, it is built from
    the database once for the deployment (whoever takes the event's publisher token; the
    others answer the stored one for the second that takes) and published, so hubs and this
    view agree on versions. With Redis down, it is built from the database, unstored: giving
    goes on, and so does the tally."""
    if not settings.REDIS_URL:
        return _local_snapshot(event_id)
    try:
        return _redis_snapshot(redisclients.sync_client(), event_id)
    except redis.RedisError:
        _warn_redis_down(event_id)
        version = backend.time_version(0)
        built = snapshot.build_snapshot(event_id=event_id, version=version, viewers=0)
        return version, snapshot.encode(built)


def _redis_snapshot(client: redis.Redis, event_id: int) -> tuple[int, str]:
    raw, changes, built = client.mget(
        [livebus.key(event_id, name) for name in ("snap", "changes", "built")]
    )
    if raw is not None and int(built or 0) >= int(changes or 0):
        return _parsed(raw)
    # Stale or missing. One builder per publisher interval for the whole deployment.
    lead_ms = round(1000 / settings.LIVE_SNAPSHOTS_PER_SECOND)
    if raw is not None and not client.set(livebus.key(event_id, "lead"), b"1", nx=True, px=lead_ms):
        return _parsed(raw)
    seen = int(changes or 0)
    version = int(
        client.register_script(backend.NEXT_VERSION_LUA)(
            keys=[livebus.key(event_id, "version")], args=[backend.SNAPSHOT_TTL_S]
        )
    )
    text = snapshot.encode(snapshot.build_snapshot(event_id=event_id, version=version, viewers=0))
    # Stored only if newer than what is there, and published to every hub (their sockets).
    client.register_script(backend.PUBLISH_LUA)(
        keys=[livebus.key(event_id, "snap"), livebus.key(event_id, "built")],
        args=[
            version, text, seen, backend.snapshot_wire(event_id, version, text),
            backend.SNAPSHOT_TTL_S, livebus.channel(),
        ],
    )  # fmt: skip
    return version, text


def _parsed(raw: bytes | str) -> tuple[int, str]:
    stored_version, _, stored = backend.as_text(raw).partition("|")
    return int(stored_version), stored


def _local_snapshot(event_id: int) -> tuple[int, str]:
    """Embedded mode: this process's snapshot, rebuilt when changes came since."""
    changes = livebus.local_changes(event_id)
    with backend._local_lock:
        found = backend.LOCAL_SNAPSHOTS.get(event_id)
        if found is not None and backend.LOCAL_BUILT.get(event_id, 0) >= changes:
            return found
        version = backend.time_version(found[0] if found else 0)
        text = snapshot.encode(
            snapshot.build_snapshot(event_id=event_id, version=version, viewers=0)
        )
        backend.LOCAL_SNAPSHOTS[event_id] = (version, text)
        backend.LOCAL_BUILT[event_id] = changes
        return version, text


_redis_down = ratelimits.Throttle(10)


def _warn_redis_down(event_id: int) -> None:
    if _redis_down.due():
        log.warning("tally.json built from the database: Redis is unavailable",
                    extra={"event_id": event_id})  # fmt: skip


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
