"""GET /healthz: is each part this process depends on reachable right now, and which of the
platform's processes are alive (events/heartbeats.py)? `SERVE_ROLES` (settings) names the
process roles this deployment runs (`make serve`: web, worker, beat, stream_worker,
transcoder): a role with no live process is down, and so is the whole answer (503)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from events import heartbeats, redisclients

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    client = redisclients.probe_client(timeout_s=PROBE_TIMEOUT_S)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


async def _roundtrip_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("healthz.")
    try:
        await layer.send(channel, {"type": "healthz.ping"})
        message = await asyncio.wait_for(layer.receive(channel), timeout=PROBE_TIMEOUT_S)
    finally:
        # A layer drops a channel's subscription when a receive on it is cancelled (that is
        # how consumers leave). Do that, or a probe every few seconds leaks a subscription.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(channel), timeout=0.05)
    if message.get("type") != "healthz.ping":
        raise RuntimeError("channel layer returned the wrong message")
    return "ok"


def _check_channel_layer() -> str:
    return async_to_sync(_roundtrip_channel_layer)()


CHECKS = {
    "database": _check_database,
    "redis": _check_redis,
    "channel_layer": _check_channel_layer,
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    down: list[str] = []
    started = time.monotonic()
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:
            # The exception's class is enough to act on; its text may carry a connection URL.
            results[name] = f"down: {type(exc).__name__}"
            down.append(name)
            log.warning("health check failed", extra={"part": name, "error": type(exc).__name__})
    processes: dict[str, list[dict[str, object]]] = {}
    try:
        now = time.time()
        for beat in heartbeats.alive():
            processes.setdefault(beat.role, []).append(
                {"name": beat.name, "up_s": round(now - beat.started), "pid": beat.pid}
            )
    except Exception as exc:  # Redis down: its own check says so
        log.warning("process list unavailable", extra={"error": type(exc).__name__})
    for role in settings.SERVE_ROLES:
        if role not in processes:
            results[f"process:{role}"] = "down: no live process"
            down.append(f"process:{role}")
    body = {
        "status": "down" if down else "ok",
        "checks": results,
        "processes": processes,
        "down": down,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return JsonResponse(body, status=503 if down else 200)
