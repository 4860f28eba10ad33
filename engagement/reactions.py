"""Reactions: five emoji attendees tap while they watch. Never a database row: each web
process counts what its sockets send and flushes its counts about once a second (the live
room's hub, liveroom/reactions.py), into per-minute counts in Redis, one hash per event and
minute (`pc:live:{id}:react:<minute>`, kept two days), beside a burst to every page. So Redis
load grows with web processes, not with viewers, and PostgreSQL sees none of it.

Without Redis (the embedded default) the per-minute counts live in this process.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import redis

from engagement.models import ReactionMinute
from engagement.services import Refused
from events import livebus, redisclients
from events.models import Event, EventStatus

# name → what the page shows. The order is the page's.
EMOJI = {"heart": "❤️", "clap": "👏", "fire": "🔥", "tada": "🎉", "laugh": "😂"}
LABELS = {
    "heart": "Heart",
    "clap": "Applause",
    "fire": "Fire",
    "tada": "Celebrate",
    "laugh": "Laugh",
}
MAX_PER_MESSAGE = 10  # of each emoji; the page sends what was tapped at most once a second
MINUTE_TTL_S = 2 * 24 * 3600


def check_counts(raw: object) -> dict[str, int]:
    """A message's `{"heart": 2, …}`, or Refused: an object of known emoji, each a whole
    number from 1 to MAX_PER_MESSAGE."""
    if not isinstance(raw, dict) or not raw:
        raise Refused("bad_message", "Reactions come as “counts”: {emoji name: how many}.")
    counts: dict[str, int] = {}
    for name, n in raw.items():
        if name not in EMOJI:
            raise Refused("bad_message", f"Unknown reaction (known: {', '.join(EMOJI)}).")
        if type(n) is not int or not 1 <= n <= MAX_PER_MESSAGE:
            raise Refused(
                "bad_message", f"Send 1 to {MAX_PER_MESSAGE} of a reaction in one message."
            )
        counts[name] = n
    return counts


def minute_of(at_s: float) -> int:
    return int(at_s // 60)


def minute_key(event_id: int, minute: int) -> str:
    return livebus.key(event_id, f"react:{minute}")


def add_count_commands(pipe: Any, *, event_id: int, counts: dict[str, int], minute: int) -> None:
    """Queue on a Redis pipeline (the hub's) the commands that count `counts` in the event's
    minute: one HINCRBY per emoji and one EXPIRE."""
    key = minute_key(event_id, minute)
    for name, n in counts.items():
        pipe.hincrby(key, name, n)
    pipe.expire(key, MINUTE_TTL_S)


# Embedded mode: (event id, minute) → counts, for this process's dashboard.
_local_lock = threading.Lock()
_local: dict[tuple[int, int], dict[str, int]] = {}


def count_locally(*, event_id: int, counts: dict[str, int], minute: int) -> None:
    with _local_lock:
        if len(_local) > 10_000:  # a long-running demo: keep the last two days
            for stale in [k for k in _local if k[1] < minute - MINUTE_TTL_S // 60]:
                del _local[stale]
        kept = _local.setdefault((event_id, minute), {})
        for name, n in counts.items():
            kept[name] = kept.get(name, 0) + n


def recent_reactions(*, event_id: int, minutes: int, now_s: float | None = None) -> dict[str, int]:
    """The event's reactions in the last `minutes` minutes (this one included), per emoji in
    the page's order, zeros left out. One Redis round trip; raises redis.RedisError if Redis
    is configured and down."""
    last = minute_of(time.time() if now_s is None else now_s)
    wanted = range(last - minutes + 1, last + 1)
    totals = dict.fromkeys(EMOJI, 0)
    for row in _live_minutes(event_id, wanted).values():
        for name, n in row.items():
            if name in totals:
                totals[name] += n
    return {name: n for name, n in totals.items() if n}


# --- After the show: the report's reactions per minute ----------------------------------------
# Redis keeps an event's minutes two days; `snapshot_reactions` copies them into the database
# (`ReactionMinute`) once the show has ended (the beat's hourly sweep, engagement/tasks.py), so
# the report keeps them after Redis forgets.
SNAPSHOT_AFTER_END = timedelta(hours=40)  # the sweep copies shows ended within this


def _live_minutes(event_id: int, minutes: range) -> dict[int, dict[str, int]]:
    """The minutes' counts as Redis (or this process without Redis) holds them, empty ones
    left out. One round trip; raises redis.RedisError when Redis is configured and down."""
    if redisclients.configured():
        pipe = redisclients.sync_client().pipeline(transaction=False)
        for minute in minutes:
            pipe.hgetall(minute_key(event_id, minute))
        rows = [{k.decode(): int(v) for k, v in row.items()} for row in pipe.execute()]
    else:
        with _local_lock:
            rows = [dict(_local.get((event_id, minute), {})) for minute in minutes]
    return {minute: row for minute, row in zip(minutes, rows, strict=True) if row}


def reaction_minutes(*, event_id: int, minutes: range) -> tuple[dict[int, int], bool]:
    """Reactions per minute (all emoji together) over `minutes` (minutes since the epoch):
    the database's snapshot, and Redis's counts where it still has them (they are the same
    or newer). With the second value False when Redis was away (the snapshot alone)."""
    totals = {
        row.minute: sum(row.counts.values())
        for row in ReactionMinute.objects.filter(
            event_id=event_id, minute__gte=minutes.start, minute__lt=minutes.stop
        )
    }
    try:
        live = _live_minutes(event_id, minutes)
    except redis.RedisError:
        return totals, False
    for minute, counts in live.items():
        totals[minute] = sum(counts.values())
    return totals, True


def snapshot_reactions(*, event_id: int, minutes: range) -> int:
    """Copies the event's minutes from Redis into `ReactionMinute` rows (an upsert: running it
    again writes the same). Returns the number of minutes copied; raises redis.RedisError
    when Redis is configured and down (nothing written)."""
    live = _live_minutes(event_id, minutes)
    ReactionMinute.objects.bulk_create(
        [ReactionMinute(event_id=event_id, minute=m, counts=c) for m, c in live.items()],
        update_conflicts=True,
        unique_fields=["event", "minute"],
        update_fields=["counts"],
    )
    return len(live)


def show_minutes(*, went_live_at: datetime | None, ended_at: datetime) -> range:
    """The minutes a show's reactions fall in: from going live (or 12 hours before the end)
    to the end's minute, both included."""
    start = went_live_at or ended_at - timedelta(hours=12)
    start = max(start, ended_at - timedelta(hours=12))
    return range(minute_of(start.timestamp()), minute_of(ended_at.timestamp()) + 1)


def snapshot_ended_shows(*, now: datetime) -> int:
    """The beat's sweep: the reactions of every show that ended within SNAPSHOT_AFTER_END
    copied into the database (again each hour: an upsert). Returns the number of shows."""
    shows = Event.objects.filter(
        status=EventStatus.ENDED, ended_at__gte=now - SNAPSHOT_AFTER_END
    ).values_list("pk", "went_live_at", "ended_at")
    done = 0
    for event_id, went_live_at, ended_at in shows:
        assert ended_at is not None  # noqa: S101 (filtered on it)
        snapshot_reactions(
            event_id=event_id, minutes=show_minutes(went_live_at=went_live_at, ended_at=ended_at)
        )
        done += 1
    return done
