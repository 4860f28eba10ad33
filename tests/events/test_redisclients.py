"""The one Redis client factory of a web process."""

from __future__ import annotations

import asyncio
import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from events import redisclients


def test_the_synchronous_client_is_one_per_process_and_answers():
    client = redisclients.sync_client()
    assert client is redisclients.sync_client()
    assert client.ping() is True


def test_each_event_loop_gets_its_own_working_client():
    async def use():
        client = redisclients.loop_client()
        assert client is redisclients.loop_client()  # the same within one loop
        assert await client.ping() is True
        return client

    # Loops one after another (as test runs and restarts make them): a client whose
    # connections belong to a closed loop is never handed to a new one.
    first = asyncio.run(use())
    second = asyncio.run(use())
    assert first is not second


def test_the_hubs_client_names_its_connections_for_the_operator():
    async def names() -> list[str]:
        client = redisclients.hub_client(pool_size=2)
        try:
            await client.ping()
            return [c["name"] for c in await client.client_list()]
        finally:
            await client.aclose(close_connection_pool=True)

    assert f"pc-live-{os.getpid()}" in asyncio.run(names())


def test_without_redis_asking_for_a_client_says_so(settings):
    settings.REDIS_URL = ""
    assert redisclients.configured() is False
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL is not set"):
        redisclients.probe_client(timeout_s=1)
