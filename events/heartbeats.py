"""Which of the platform's processes are alive: each long-running process (web, Celery worker
and beat, stream worker, transcoder) writes a heartbeat to Redis every few seconds, and
`/healthz` (config/health.py) lists them in one place.

A heartbeat is one Redis key per process, `pc:proc:<role>:<name>` (the name: host and port
for a web process, host and pid for the others), holding when it started and when it last
beat, that expires after three missed beats: a process that dies or hangs disappears from the
list within STALE_S, with nothing to clean up. Without Redis (`make run`'s embedded defaults)
nothing is written and nothing is listed.

Imports nothing of ours but events.redisclients.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

from events import redisclients

log = logging.getLogger(__name__)

INTERVAL_S = 5.0
STALE_S = 3 * INTERVAL_S
PREFIX = "pc:proc:"
ROLES = ("web", "worker", "beat", "stream_worker", "transcoder")


@dataclass(frozen=True)
class Heartbeat:
    role: str
    name: str
    pid: int
    started: float
    seen: float


def process_name(port: int | None = None) -> str:
    host = socket.gethostname()
    return f"{host}:{port}" if port is not None else f"{host}:pid{os.getpid()}"


def beat_once(*, role: str, name: str, started: float) -> None:
    """Write this process's heartbeat (raises the Redis client's errors)."""
    value = json.dumps(
        {"role": role, "name": name, "pid": os.getpid(), "started": started, "seen": time.time()}
    )
    redisclients.sync_client().set(f"{PREFIX}{role}:{name}", value, ex=int(STALE_S))


def start(*, role: str, port: int | None = None) -> threading.Thread | None:
    """Beat for this process every INTERVAL_S in a daemon thread, for as long as the process
    lives (a Redis outage skips beats, logged once per outage). None without Redis."""
    if role not in ROLES:
        raise ValueError(f"unknown process role {role!r}")
    if not redisclients.configured():
        return None
    name = process_name(port)
    started = time.time()

    def run() -> None:
        failing = False
        while True:
            try:
                beat_once(role=role, name=name, started=started)
                failing = False
            except Exception as exc:  # a Redis outage: the next beat tries again
                if not failing:
                    log.warning("heartbeat not written role=%s error=%s", role, type(exc).__name__)
                failing = True
            time.sleep(INTERVAL_S)

    thread = threading.Thread(target=run, name=f"heartbeat-{role}", daemon=True)
    thread.start()
    return thread


def alive() -> list[Heartbeat]:
    """The processes whose heartbeat has not expired, by role then name."""
    if not redisclients.configured():
        return []
    client = redisclients.sync_client()
    keys = sorted(client.scan_iter(match=f"{PREFIX}*", count=500))
    found: list[Heartbeat] = []
    for raw in client.mget(keys) if keys else []:
        if raw is None:
            continue
        try:
            data = json.loads(raw)
            found.append(
                Heartbeat(
                    role=str(data["role"]),
                    name=str(data["name"]),
                    pid=int(data["pid"]),
                    started=float(data["started"]),
                    seen=float(data["seen"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda h: (h.role, h.name))
