"""Live-room fixtures: real uvicorn web processes on the test database and the test Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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


@pytest.fixture(autouse=True)
def _transactional(transactional_db) -> None:
    """The live room's tests are transactional: its web processes read committed rows."""
