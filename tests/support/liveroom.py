"""Helpers of the live room's tests: browser-like WebSocket clients of real web processes, an
in-process client of the ASGI application, and reading snapshots with a deadline."""

from __future__ import annotations

import asyncio
import json
import time

from asgiref.testing import ApplicationCommunicator
from websockets.asyncio.client import ClientConnection, connect

from tests.support.processes import Server


async def open_socket(
    server: Server, slug: str, *, cookies: dict[str, str] | None = None
) -> ClientConnection:
    """A browser-like client: it offers per-message deflate, as browsers do, and sends
    `cookies` as a browser sends the page's."""
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else None
    return await connect(
        server.ws_url(slug),
        origin=server.origin,  # type: ignore[arg-type]
        open_timeout=10,
        additional_headers=headers,
    )


def attendee_cookie(attendee: str) -> dict[str, str]:
    """The signed attendee cookie the event page gives a browser (liveroom.attendees)."""
    from liveroom import attendees

    return {attendees.COOKIE: attendees._signer().sign(attendee)}


async def next_snapshot(ws: ClientConnection, timeout: float = 10) -> dict[str, object]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def snapshot_where(ws: ClientConnection, predicate, timeout: float = 15) -> dict:
    """Read snapshots until one satisfies `predicate`, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no snapshot matched before the deadline")
        try:
            snapshot = await next_snapshot(ws, timeout=left)
        except TimeoutError:
            raise AssertionError("no snapshot matched before the deadline") from None
        if predicate(snapshot):
            return snapshot


class Communicator(ApplicationCommunicator):
    """An in-process WebSocket client of the ASGI application (what Channels' own
    WebsocketCommunicator does; channels.testing needs daphne, which we do not run)."""

    def __init__(self, slug: str, *, cookies: dict[str, str] | None = None) -> None:
        from config.asgi import application

        headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
        if cookies:
            line = "; ".join(f"{name}={value}" for name, value in cookies.items())
            headers.append((b"cookie", line.encode("latin-1")))
        scope = {
            "type": "websocket",
            "path": f"/ws/events/{slug}/",
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 5) -> dict:
        await self.send_input({"type": "websocket.connect"})
        return await self.receive_output(timeout)

    async def receive_text(self, timeout: float = 5) -> str:
        message = await self.receive_output(timeout)
        assert message["type"] == "websocket.send", message
        return message["text"]

    async def send_text(self, text: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text})

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(5)


async def in_thread(fn, *args, **kwargs):
    """Run ORM code (and the on-commit publishing it triggers) from an async scenario, in a
    worker thread that closes its database connection afterwards."""
    from django.db import connections

    def run():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return await asyncio.to_thread(run)


def collect_snapshots(listener, event_id: int, after_version: int, quiet_s: float = 1.0):
    """Snapshots of the event newer than `after_version` that `listener` (subscribed to the
    live channel beforehand) got, read until `quiet_s` from now; a trailing snapshot comes
    within one coalescing interval (0.5 s)."""
    prefix = f"s|{event_id}|"
    found = []
    deadline = time.monotonic() + quiet_s
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.1)
        if message is not None and message["data"].decode().startswith(prefix):
            snapshot = json.loads(message["data"].decode().split("|", 3)[3])
            if snapshot["version"] > after_version:
                found.append(snapshot)
    return found


def wait_for_viewer_sample(event_id: int, timeout: float = 10) -> None:
    """The web processes record a viewer sample for an event in its first presence report
    (liveroom/samples.py). A test against real web processes that ends sooner waits for it:
    the sample inserted while the test's flush deletes the event would fail the flush."""
    from events.models import ViewerSample
    from tests.support import wait_for

    wait_for(
        lambda: ViewerSample.objects.filter(event_id=event_id).exists(),
        timeout,
        what="the event's first viewer sample",
    )
