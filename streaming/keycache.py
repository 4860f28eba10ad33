"""A Redis copy of the ingest's answer to "may this key write to this stream?", so that an
encoder's PUTs are checked on the event loop (one Redis GET) instead of a database query in a
worker thread (a thread hop that costs milliseconds on a busy machine).

The database stays the truth: an entry is written only after the database accepted the key
(`remember`, by the ingest), and removed when the answer may change (`forget`: the key was
rotated, the stream ended; called on commit by `services`). A missing entry, no Redis (the
embedded default) or a Redis error all mean "ask the database". The entry holds the stream's
id and the key's SHA-256, never the key.
"""

from __future__ import annotations

import logging

import redis

from events import redisclients

log = logging.getLogger(__name__)

TTL_SECONDS = 3600


def _key(public_id: str) -> str:
    return f"pc:streaming:ingest-key:{public_id}"


def _sync() -> redis.Redis | None:
    return redisclients.sync_client() if redisclients.configured() else None


def remember(*, public_id: str, stream_id: int, key_hash: str) -> None:
    client = _sync()
    if client is None:
        return
    try:
        client.set(_key(public_id), f"{stream_id}:{key_hash}", ex=TTL_SECONDS)
    except redis.RedisError:
        log.warning("ingest key cache not written", extra={"public_id": public_id})


def forget(*, public_id: str) -> None:
    client = _sync()
    if client is None:
        return
    try:
        client.delete(_key(public_id))
    except redis.RedisError:
        # The entry expires on its own; until then a rotated key could still write.
        log.exception("ingest key cache not cleared", extra={"public_id": public_id})


async def lookup(public_id: str) -> tuple[int, str] | None:
    """(stream id, key hash) if the database accepted a key for this stream and nothing
    changed since; None to ask the database."""
    if not redisclients.configured():
        return None
    try:
        value = await redisclients.loop_client().get(_key(public_id))
    except redis.RedisError:
        return None
    if not value:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    stream_id, _, key_hash = text.partition(":")
    return int(stream_id), key_hash
