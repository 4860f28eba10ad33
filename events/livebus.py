"""The live room's pub/sub transport: how lower layers say "this event changed".

A small module that imports no app, so `events`, `donations` and `streaming` services can
call it without importing the live room that sits on top of them. Call it from
`transaction.on_commit` so that nobody hears of a change that was rolled back.

What travels is only "what changed for which event". With Redis, `publish_change` bumps the
event's change counter and publishes a one-line notice on the live room's single channel; the
web processes' hubs (events/live/) elect one publisher per event, which re-reads the state
through the selectors and broadcasts a whole snapshot, coalesced to a few per second. A lost
or duplicated notice costs nothing: the counter is compared with the last snapshot's, and the
next snapshot carries everything. Without Redis (the embedded default) the notice goes to the
hub of this process through `add_local_listener`.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from events import redisclients

log = logging.getLogger(__name__)

ChangeKind = Literal["tally", "stream", "status", "viewers", "engagement", "capacity"]


def channel() -> str:
    """The one pub/sub channel of the live room: `c|<event_id>|<kind>` notices and
    `s|<event_id>|<version>|<snapshot json>` snapshots; one subscription per web process.
    Redis pub/sub ignores database numbers, so the number is part of the name: deployments
    (and test runs) on other databases of the same Redis server never hear each other."""
    parts = urlsplit(settings.REDIS_URL)
    db = parse_qs(parts.query).get("db", [parts.path.strip("/") or "0"])[-1]
    return f"pc:live:db{db}"


def key(event_id: int, name: str) -> str:
    """A per-event Redis key. The `{id}` hash tag keeps an event's keys in one Cluster slot,
    so the hub's Lua scripts may touch them together."""
    return f"pc:live:{{{event_id}}}:{name}"


def notice(event_id: int, kind: str) -> str:
    return f"c|{event_id}|{kind}"


# Embedded mode (no REDIS_URL): the change counters and the listeners of this process.
_local_lock = threading.Lock()
_local_changes: defaultdict[int, int] = defaultdict(int)
_local_listeners: list[Callable[[int, str], None]] = []


def add_local_listener(listener: Callable[[int, str], None]) -> None:
    """Embedded mode: `listener(event_id, kind)` is called, in the publisher's thread, for
    every change. It must be thread-safe and quick (the hub hands it to its event loop)."""
    with _local_lock:
        _local_listeners.append(listener)


def remove_local_listener(listener: Callable[[int, str], None]) -> None:
    with _local_lock:
        if listener in _local_listeners:
            _local_listeners.remove(listener)


def local_changes(event_id: int) -> int:
    """Embedded mode: how many changes were published for the event in this process."""
    with _local_lock:
        return _local_changes[event_id]


_deferred: ContextVar[set[tuple[int, str]] | None] = ContextVar("livebus_deferred", default=None)


@contextmanager
def deferred_changes(into: set[tuple[int, str]]) -> Iterator[None]:
    """Inside the block, `publish_change` only adds `(event_id, kind)` to `into`: the caller
    tells them once the block is over. The live room's hub does so for its clients' messages,
    coalescing a poll's thousands of votes a second into a few notices (liveroom/hub.py)."""
    token = _deferred.set(into)
    try:
        yield
    finally:
        _deferred.reset(token)


def publish_change(*, event_id: int, kind: ChangeKind) -> None:
    """Tell the live room that `kind` changed for the event. Never raises: the change is
    already committed, and a missed notification is healed by the next snapshot.

    One Redis round trip (INCR and PUBLISH pipelined), whatever the number of viewers; or,
    inside `deferred_changes`, none (its caller tells)."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.add((event_id, kind))
        return
    if not settings.REDIS_URL:
        with _local_lock:
            _local_changes[event_id] += 1
            listeners = list(_local_listeners)
        for listener in listeners:
            try:
                listener(event_id, kind)
            except Exception:
                log.exception("live change not delivered", extra={"event_id": event_id})
        return
    try:
        pipe = redisclients.sync_client().pipeline(transaction=False)
        pipe.incr(key(event_id, "changes"))
        pipe.expire(key(event_id, "changes"), 7 * 24 * 3600)
        pipe.publish(channel(), notice(event_id, kind))
        pipe.execute()
    except Exception as exc:
        # Redis away: the next snapshot after it returns carries everything (and tally.json
        # reads the database meanwhile). A warning, not a traceback per change.
        log.warning(
            "live change not published",
            extra={"event_id": event_id, "kind": kind, "error": type(exc).__name__},
        )
