"""Live-room fixtures: real uvicorn web processes on the test database and the test Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect

from tests import support

ROOT = Path(__file__).resolve().parent.parent.parent
PORTS = range(18200, 18400)  # the live room's range on this machine
# Short presence expiry in the servers, so the killed-process test takes seconds.
SERVER_PRESENCE_TTL_S = 2


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]

    def ws_url(self, slug: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/events/{slug}/"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def server_env(database_name: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a web process (or a worker beside it) on the test database and
    Redis, with `env` added."""
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{database_name}"
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "LIVE_PRESENCE_TTL_SECONDS": str(SERVER_PRESENCE_TTL_S),
        "SERVE_STATIC": "1",  # the page's liveroom.js, for the browser tests
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }


def start_server(
    database_name: str, *, env: dict[str, str] | None = None, ports: range = PORTS
) -> Server:
    """A uvicorn web process as `make run` starts it, against the test database, with `env`
    added to its environment, on a free port of `ports` (each suite has its own range)."""
    environment = server_env(database_name, env)
    port = support.free_port(ports)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--ws-per-message-deflate", "false", "--no-access-log",
         "--log-level", "warning", "--ws-max-size", "65536"],
        cwd=ROOT, env=environment, start_new_session=True,
    )  # fmt: skip
    server = Server(port=port, proc=proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the web process exited at start")
        try:
            # An http://127.0.0.1 URL we built.
            health = f"{server.origin}/healthz"
            with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("the web process did not answer /healthz")


@pytest.fixture(scope="session")
def live_redis() -> Iterator[redis.Redis]:
    """The test Redis, without the live room's keys of earlier runs (event ids repeat)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("pc:live:*", count=1000):
        client.delete(key)
    yield client
    client.close()


@pytest.fixture(scope="session")
def web_processes(django_db_setup, django_db_blocker, live_redis) -> Iterator[list[Server]]:
    """Two web processes sharing the test database and Redis, for the whole session."""
    name = settings.DATABASES["default"]["NAME"]
    servers = [start_server(name), start_server(name)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def spare_web_process(django_db_setup, live_redis) -> Iterator[Server]:
    """A third web process of its own, for a test that kills it."""
    server = start_server(settings.DATABASES["default"]["NAME"])
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
