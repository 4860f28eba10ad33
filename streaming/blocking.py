"""LL-HLS blocking playlist reloads (RFC 8216bis §6.2.5.2) for low-latency streams.

A player asks `…/<rendition>/index.m3u8?_HLS_msn=M&_HLS_part=P`: "answer when the playlist
holds part P of segment M (or anything later)". The writer (publishing.write_media_playlist)
records where each low-latency rendition stands in Redis (`announce`: a key per rendition and
a message on one channel) right after it writes the playlist. The web process answers in
`BlockingReloadApp`, an ASGI layer in front of Django: it checks the directives (400 for
malformed ones, and for a segment or part too far ahead), then waits on the event loop for
the rendition's next announcement (one Redis subscription per process wakes every waiter of
that rendition), holding neither a thread nor a database connection, for at most
HLS_BLOCKING_RELOAD_TARGETS target durations (then 503), and finally hands the request to
Django, which serves the playlist as usual (cacheable for a target duration: the edge keys
it by the directives and collapses identical ones, deploy/nginx/edge.conf).

A stream in standard latency has no state here: its directives are ignored (the playlist does
not advertise CAN-BLOCK-RELOAD) and Django answers at once. Without Redis, neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from django.conf import settings
from redis import asyncio as aioredis

from events import redisclients

if TYPE_CHECKING:
    from streaming.models import Rendition, Stream

log = logging.getLogger(__name__)

CHANNEL = "pc:hls:ll"
STATE_TTL_S = 3600
# A waiter checks the state at least this often, should the subscription miss a message.
SAFETY_POLL_S = 1.0
PLAYLIST = re.compile(
    r"^/(?:s/[A-Za-z0-9_-]{22}/[0-9]{1,12}/)?live/(?P<public_id>[0-9a-f]{1,32})/"
    r"(?P<rendition>[A-Za-z0-9][A-Za-z0-9_-]{0,63})/index\.m3u8$"
)
_NUMBER = re.compile(r"^[0-9]{1,9}$")

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def state_key(public_id: str, rendition: str) -> str:
    return f"pc:hls:ll:{public_id}:{rendition}"


# --- the writer's side ------------------------------------------------------------------------


def announce(*, stream: Stream, rendition: Rendition, complete: int, complete_parts: int) -> None:
    """Record where `rendition` stands (its playlist was just written) and wake its waiters.
    `complete`: the number of its newest complete segment, of `complete_parts` parts. A
    Redis failure is logged: players then get their answers when their wait runs out."""
    if not redisclients.configured():
        return
    opened = rendition.open_segment or {}
    state = {
        "complete": complete,
        "complete_parts": complete_parts,
        "open": opened.get("seq", complete + 1),
        "open_parts": len(opened.get("parts", ())),
        "target": stream.target_duration,
        "part_target": settings.HLS_PART_TARGET_MS / 1000,
        "ended": stream.state == "ended",
    }
    key = state_key(stream.public_id, rendition.name)
    try:
        client = redisclients.sync_client()
        pipe = client.pipeline(transaction=False)
        pipe.set(key, json.dumps(state), ex=STATE_TTL_S)
        pipe.publish(CHANNEL, key)
        pipe.execute()
    except Exception:
        log.warning("LL-HLS state not announced", exc_info=True, extra={"key": key})


# --- the directives and where a rendition stands ------------------------------------------------


@dataclass(frozen=True)
class Directive:
    msn: int
    part: int | None


def parse_directives(query: str) -> Directive | str | None:
    """The delivery directives of a query string: None without any, a message if malformed.
    Empty values count as absent (the edge forwards the names it keys on, empty or not)."""
    values = {k: v for k, v in parse_qsl(query, keep_blank_values=True) if v != ""}
    msn, part = values.get("_HLS_msn"), values.get("_HLS_part")
    if msn is None and part is None:
        return None
    if msn is None:
        return "_HLS_part needs _HLS_msn (RFC 8216bis §6.2.5.2)."
    for name, value in (("_HLS_msn", msn), ("_HLS_part", part)):
        if value is not None and not _NUMBER.match(value):
            return f"{name} must be a whole number from 0 up, not {value[:20]!r}."
    return Directive(msn=int(msn), part=int(part) if part is not None else None)


@dataclass(frozen=True)
class Standing:
    complete: int  # the newest complete segment (-1: none yet)
    complete_parts: int
    open: int  # the segment being built
    open_parts: int
    target: int
    part_target: float
    ended: bool

    @property
    def newest_part(self) -> tuple[int, int]:
        if self.open_parts:
            return self.open, self.open_parts - 1
        return self.complete, (self.complete_parts or 10**6) - 1

    def too_far(self, d: Directive) -> str | None:
        """RFC 8216bis §6.2.5.2: a segment beyond the last one plus two, or a part beyond the
        last one by the Advance Part Limit, is a Bad Request."""
        last = self.open if self.open_parts else self.complete
        if d.msn > last + 2:
            return (
                f"_HLS_msn={d.msn} is too far ahead: the playlist's last segment is {last}, "
                f"so at most {last + 2} may be asked."
            )
        limit = int(3 / self.part_target) if self.part_target < 1 else 3
        msn, part = self.newest_part
        if d.part is not None and (
            (d.msn == msn and d.part > part + limit) or (d.msn > msn and d.part >= limit)
        ):
            return f"_HLS_part={d.part} is too far ahead of the playlist's last part."
        return None

    def holds(self, d: Directive) -> bool:
        if self.ended:
            return True
        if d.part is None:
            return self.complete >= d.msn
        return self.newest_part >= (d.msn, d.part)


async def standing(key: str) -> Standing | None:
    raw = await redisclients.loop_client().get(key)
    if raw is None:
        return None
    return Standing(**json.loads(raw))


class _Waiters:
    """One subscription to CHANNEL per event loop; an asyncio.Event per rendition key, set
    (and replaced) by each announcement."""

    def __init__(self) -> None:
        self.events: dict[str, asyncio.Event] = {}
        self.task: asyncio.Task[None] | None = None

    def event(self, key: str) -> asyncio.Event:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._listen())
        event = self.events.get(key)
        if event is None:
            event = self.events[key] = asyncio.Event()
        return event

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(str(settings.REDIS_URL), socket_connect_timeout=2)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is None:
                    continue
                event = self.events.pop(message["data"].decode(), None)
                if event is not None:
                    event.set()
        except Exception:
            log.warning("LL-HLS subscription lost", exc_info=True)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                await client.aclose()


_waiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waiters] = (
    weakref.WeakKeyDictionary()
)


def _loop_waiters() -> _Waiters:
    loop = asyncio.get_running_loop()
    waiters = _waiters.get(loop)
    if waiters is None:
        waiters = _waiters[loop] = _Waiters()
    return waiters


async def wait_for(key: str, directive: Directive, *, max_wait_s: float | None) -> str | None:
    """Wait until the rendition holds `directive`: None when it does (or is not a low-latency
    rendition we know), else the message of a 400 or a 503."""
    waiters = _loop_waiters()
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    while True:
        event = waiters.event(key)  # before reading: an announcement after the read wakes it
        state = await standing(key)
        if state is None:
            return None
        if deadline is None:
            refused = state.too_far(directive)
            if refused is not None:
                return refused
            bound = settings.HLS_BLOCKING_RELOAD_TARGETS * state.target
            deadline = loop.time() + (bound if max_wait_s is None else max_wait_s)
        if state.holds(directive):
            return None
        remaining = deadline - loop.time()
        if remaining <= 0:
            part = f" part {directive.part}" if directive.part is not None else ""
            return TIMEOUT + f"segment {directive.msn}{part} did not come; ask again."
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), min(remaining, SAFETY_POLL_S))


TIMEOUT = "Not yet: "


# --- the ASGI layer -------------------------------------------------------------------------


class BlockingReloadApp:
    """Blocking reloads of low-latency media playlists answered on the event loop (above);
    everything else goes straight to `app`. `max_wait_s` overrides the bound (tests)."""

    def __init__(self, app: Any, *, max_wait_s: float | None = None) -> None:
        self.app = app
        self.max_wait_s = max_wait_s

    async def __call__(self, scope: Scope, receive: Any, send: Send) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        match = PLAYLIST.match(scope.get("path", "")) if b"_HLS_" in query else None
        if match is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        directive = parse_directives(query.decode("latin-1"))
        if isinstance(directive, str):
            await _answer(send, 400, directive)
            return
        if directive is not None and redisclients.configured():
            key = state_key(match["public_id"], match["rendition"])
            try:
                refused = await wait_for(key, directive, max_wait_s=self.max_wait_s)
            except Exception:
                log.warning("LL-HLS wait failed", exc_info=True, extra={"key": key})
                refused = None  # Redis away: the playlist as it is
            if refused is not None:
                await _answer(send, 503 if refused.startswith(TIMEOUT) else 400, refused)
                return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, message: str) -> None:
    body = (message + "\n").encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"access-control-allow-origin", b"*"),
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
