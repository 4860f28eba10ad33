import socket

import pytest
from django.test import override_settings

from config.env import redis_dependent_settings

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_reports_every_part_up(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "redis": "ok", "channel_layer": "ok"}
    assert body["down"] == []
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_answers_503_naming_redis_when_redis_is_down(client):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    parts = redis_dependent_settings(url, pool_size=10)
    with override_settings(REDIS_URL=url, CHANNEL_LAYERS=parts["CHANNEL_LAYERS"]):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["down"] == ["redis", "channel_layer"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "down: ConnectionError"
    # Nothing of the connection URL leaks into the answer.
    assert url not in response.content.decode()


def test_it_says_redis_is_not_configured_on_embedded_defaults(client):
    parts = redis_dependent_settings("", pool_size=10)
    with override_settings(REDIS_URL="", CHANNEL_LAYERS=parts["CHANNEL_LAYERS"]):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "redis": "not configured",
        "channel_layer": "ok",
    }


def test_it_refuses_post(client):
    assert client.post("/healthz").status_code == 405


def test_the_channel_layer_probe_leaves_no_subscription_behind(settings):
    import asyncio
    import time

    import redis.asyncio

    from config.health import _roundtrip_channel_layer

    async def scenario():
        for _ in range(3):
            assert await _roundtrip_channel_layer() == "ok"
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        deadline = time.monotonic() + 5
        try:
            while True:
                left = await client.pubsub_channels("*healthz*")
                if not left or time.monotonic() > deadline:
                    return left
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == []
