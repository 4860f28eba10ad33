"""The live room's WebSocket consumer: `ws/events/<slug>/`.

It only translates between the socket and the process's hub (liveroom/hub.py): admission
on connect, the current snapshot at once, then whatever the hub offers its outbox. What
clients send is bounded in size and rate (a flooder is closed), then answered by
liveroom/inbound.py (questions, votes, reactions; a bad message gets an error frame and the
socket stays); every frame out leaves through the socket's outbox.

Close codes (the browser client acts on them):
- 4404: no such event (or a draft).
- 4429: the event is at its capacity tier ("this event is full"); the client does not retry
  at once.
- 4430: this browser or address already holds as many seats as it may (liveroom/seats.py);
  the client retries as for a full event.
- 1009: an inbound message over LIVE_INBOUND_MAX_BYTES.
- 1008: more inbound messages than LIVE_INBOUND_PER_SECOND allows.
- 1011: Redis or the database is unreachable; the client retries with backoff.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from liveroom import attendees, inbound
from liveroom.hub import Hub, SeatKeys, get_hub
from liveroom.outbox import Outbox
from liveroom.seats import Client

log = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404
CLOSE_FULL = 4429
CLOSE_CLIENT_CAP = 4430
CLOSE_TOO_BIG = 1009
CLOSE_FLOOD = 1008
CLOSE_UNAVAILABLE = 1011

# Refusals come in storms (a full room retried by thousands): counted, one line per interval.
REFUSALS_LOG_EVERY_S = 10.0


class RefusalCounts:
    """Counts refused sockets per reason and event; logs them at most every interval."""

    def __init__(self, every_s: float = REFUSALS_LOG_EVERY_S) -> None:
        self.every_s = every_s
        self.counts: dict[tuple[str, int], int] = {}
        self.since = time.monotonic()

    def add(self, reason: str, event_id: int) -> None:
        key = (reason, event_id)
        self.counts[key] = self.counts.get(key, 0) + 1
        now = time.monotonic()
        if now - self.since >= self.every_s:
            for (why, eid), count in sorted(self.counts.items()):
                log.info(
                    "live room refused sockets",
                    extra={"event_id": eid, "why": why, "count": count,
                           "seconds": round(now - self.since, 1)},
                )  # fmt: skip
            self.counts.clear()
            self.since = now


refusals = RefusalCounts()


class LiveRoomConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    hub: Hub | None = None
    event_id: int | None = None
    outbox: Outbox | None = None
    admitted = False
    dropped = False
    seat: SeatKeys | None = None
    sender: inbound.Sender | None = None
    _tokens = 0.0
    _refilled = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # No channel layer per connection (on the pub/sub layer a channel name costs a Redis
        # subscription per socket: the hub fans out instead), and none of AsyncConsumer's
        # extra task and asyncio.wait() per message: an idle socket costs ~3 KB less.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch closes stale DB connections in a thread before every message; this
        # consumer never touches the database, and that hop would cost more than the work.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            self.hub = hub = await get_hub()
            info = await hub.event_info(slug)
            admitted = info is not None and await hub.admit(info)
        except Exception:
            # Redis or the database is down: the client retries later, with backoff.
            log.exception("live room unavailable", extra={"slug": slug})
            await self.accept()
            await self.close(code=CLOSE_UNAVAILABLE)
            return
        if info is None:
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if not admitted:
            refusals.add("full", info.event_id)
            await self.accept()
            await self.close(code=CLOSE_FULL)
            return
        cookies = attendees.cookies_from_headers(self.scope.get("headers", []))
        client = Client(
            address=(self.scope.get("client") or ("unknown", 0))[0],
            attendee=attendees.attendee_from_cookie(cookies.get(attendees.COOKIE)),
        )
        try:
            seat = await hub.take_seat(info, client)
        except Exception:
            hub.leave(info.event_id, None)
            log.exception("live room unavailable", extra={"slug": slug})
            await self.accept()
            await self.close(code=CLOSE_UNAVAILABLE)
            return
        if seat is None:
            hub.leave(info.event_id, None)
            refusals.add("client cap", info.event_id)
            await self.accept()
            await self.close(code=CLOSE_CLIENT_CAP)
            return
        self.event_id = info.event_id
        self.admitted = True
        self.seat = seat
        participant, refusal = attendees.participant(
            cookies, event_id=info.event_id, registration_required=info.registration_required
        )
        self.sender = inbound.Sender(
            info.event_id, participant, refusal, hub.reactions.add, hub.tell_soon
        )
        try:
            try:
                await hub.snapshot(info.event_id)
            except Exception:
                # The snapshot follows through the hub as soon as one is published.
                log.exception("live snapshot unavailable", extra={"event_id": info.event_id})
            await self.accept()
        except BaseException:
            # The client left before the accept went out (the server raises on send): give
            # the seat back, since no disconnect will reach this consumer.
            hub.leave(info.event_id, None)
            hub.give_back_seat(info.event_id, seat)
            self.admitted = False
            raise
        self._tokens = 2.0 * settings.LIVE_INBOUND_PER_SECOND
        self._refilled = time.monotonic()
        self.outbox = Outbox(self.base_send)
        hub.join(info.event_id, self.outbox)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.dropped:
            return
        size = (
            len(text_data.encode("utf-8", "surrogatepass"))
            if text_data is not None
            else len(bytes_data or b"")
        )
        if size > settings.LIVE_INBOUND_MAX_BYTES:
            await self._drop(CLOSE_TOO_BIG, "too big")
            return
        # A token bucket: LIVE_INBOUND_PER_SECOND, bursts of twice that.
        now = time.monotonic()
        rate = settings.LIVE_INBOUND_PER_SECOND
        self._tokens = min(2.0 * rate, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens < 1.0:
            await self._drop(CLOSE_FLOOD, "flood")
            return
        self._tokens -= 1.0
        if self.outbox is None or self.sender is None:
            return  # not in the room (a refused socket is closed at once): nothing to answer
        reply = await inbound.answer(self.sender, text_data)
        if reply is not None:
            self.outbox.push(reply)

    async def _drop(self, code: int, why: str) -> None:
        if self.dropped:
            return  # a flood's later messages may still be queued: close once
        self.dropped = True
        log.info("live socket closed", extra={"event_id": self.event_id, "why": why})
        if self.outbox is not None:
            self.outbox.close()
        await self.close(code=code)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if self.admitted and self.hub is not None and self.event_id is not None:
            self.hub.leave(self.event_id, self.outbox)
            self.hub.give_back_seat(self.event_id, self.seat or [])
            self.admitted = False
        raise StopConsumer()
