"""The WebSocket gate (config/websocket.py) against a real web process: the Origin checked
exactly, unknown paths closed with a code, a flood closed once, and no traceback in the log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from events.models import EventStatus
from tests.factories import EventFactory
from tests.support.processes import Server, start_server


@pytest.fixture(scope="module")
def logged_server(django_db_setup, live_redis, tmp_path_factory) -> Iterator[tuple[Server, Path]]:
    log = tmp_path_factory.mktemp("gate") / "web.log"
    server = start_server(env={"LOG_LEVEL": "INFO"}, log_file=log)
    yield server, log
    server.stop()


@pytest.fixture(autouse=True)
def _committed(transactional_db) -> None:
    """The web process reads committed rows."""


async def handshake_status(server: Server, path: str, origin: str | None) -> int:
    try:
        ws = await connect(f"ws://127.0.0.1:{server.port}{path}", origin=origin, open_timeout=10)  # type: ignore[arg-type]
    except InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


async def close_code(server: Server, path: str) -> int | None:
    async with connect(
        f"ws://127.0.0.1:{server.port}{path}", origin=server.origin, open_timeout=10
    ) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    return None


def test_the_origin_must_be_exactly_the_sites_own(logged_server):
    server, _ = logged_server
    event = EventFactory(status=EventStatus.LIVE)
    path = f"/ws/events/{event.slug}/"
    other_port = f"http://127.0.0.1:{server.port + 1}"

    async def scenario():
        return [
            await handshake_status(server, path, server.origin),
            await handshake_status(server, path, other_port),
            await handshake_status(server, path, f"https://127.0.0.1:{server.port}"),
            await handshake_status(server, path, "http://evil.example"),
            await handshake_status(server, path, None),
            await handshake_status(server, path, "null"),
        ]

    assert asyncio.run(scenario()) == [101, 403, 403, 403, 403, 403]


@pytest.mark.parametrize(
    "path",
    ["/ws/nope/", "/ws/%00%ff/", "/ws/events/", "/ws/events/a/b/", "/ws/events/%F0%9F%92%A9/"],
)
def test_a_path_that_matches_no_route_is_closed_with_4404(logged_server, path):
    server, _ = logged_server
    assert asyncio.run(close_code(server, path)) == 4404


def test_a_flood_closes_the_socket_once_and_the_log_has_no_traceback(logged_server):
    server, log = logged_server
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        async with connect(server.ws_url(event.slug), origin=server.origin) as ws:
            await ws.recv()  # the snapshot
            try:
                for _ in range(500):
                    await ws.send("x" * 10)
                while True:  # the error frames of the burst it allowed, then the close
                    await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
        return None

    assert asyncio.run(scenario()) == 1008
    # Every test of this module has run its requests against this server by now or runs
    # them before: the log holds no traceback (an ASGI error or a 500 would print one).
    assert "Traceback" not in log.read_text()
