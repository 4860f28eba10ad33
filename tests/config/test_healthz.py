import socket
import time

import pytest
from django.test import override_settings

from config.env import redis_dependent_settings
from events import heartbeats

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


@pytest.fixture
def no_heartbeats(live_redis):
    for key in live_redis.scan_iter("pc:proc:*"):
        live_redis.delete(key)
    return live_redis


def test_it_lists_the_processes_alive_and_a_missing_role_is_down(client, settings, no_heartbeats):
    heartbeats.beat_once(role="web", name="box:8001", started=time.time() - 60)
    heartbeats.beat_once(role="worker", name="box:pid7", started=time.time())
    settings.SERVE_ROLES = ["web", "worker", "beat"]

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert [p["name"] for p in body["processes"]["web"]] == ["box:8001"]
    assert body["processes"]["web"][0]["up_s"] >= 60
    assert set(body["processes"]) == {"web", "worker"}
    assert body["down"] == ["process:beat"]
    assert body["checks"]["process:beat"] == "down: no live process"

    heartbeats.beat_once(role="beat", name="box:pid8", started=time.time())
    assert client.get("/healthz").status_code == 200


def test_a_heartbeat_expires_when_its_process_stops_beating(no_heartbeats):
    heartbeats.beat_once(role="transcoder", name="box:pid9", started=time.time())
    key = "pc:proc:transcoder:box:pid9"
    assert 0 < no_heartbeats.ttl(key) <= heartbeats.STALE_S
    assert [h.name for h in heartbeats.alive()] == ["box:pid9"]
    no_heartbeats.delete(key)  # what the expiry does
    assert heartbeats.alive() == []
    with pytest.raises(ValueError, match="unknown process role"):
        heartbeats.start(role="janitor")
