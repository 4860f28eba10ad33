"""Live-room fixtures: real uvicorn web processes on the test database and the test Redis."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from asgiref.testing import ApplicationCommunicator
from websockets.asyncio.client import ClientConnection, connect

from tests.support.processes import Server, start_server


@pytest.fixture(scope="session")
def web_processes(django_db_setup, django_db_blocker, live_redis) -> Iterator[list[Server]]:
    """Two web processes sharing the test database and Redis, for the whole session."""
    servers = [start_server(), start_server()]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def spare_web_process(django_db_setup, live_redis) -> Iterator[Server]:
    """A third web process of its own, for a test that kills it."""
    server = start_server()
    yield server
    server.stop()


async def open_socket(server: Server, slug: str) -> ClientConnection:
    """A browser-like client: it offers per-message deflate, as browsers do."""
    return await connect(server.ws_url(slug), origin=server.origin, open_timeout=10)  # type: ignore[arg-type]


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

    def __init__(self, slug: str) -> None:
        from config.asgi import application

        scope = {
            "type": "websocket",
            "path": f"/ws/events/{slug}/",
            "query_string": b"",
            "headers": [(b"origin", b"http://127.0.0.1")],
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


@pytest.fixture(autouse=True)
def _transactional(transactional_db) -> None:
    """The live room's tests are transactional: its web processes read committed rows."""


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
