"""The production stack on one box (config/stack.py, `make serve`): supervisord brings up nginx
(front, edge, origin, RTMP), two web processes, Celery worker and beat, the stream worker and
the transcoder; /healthz lists every part green; a gift through the front reaches a viewer's
socket; a rolling restart of the web processes brings the viewer back with the tally; and a
stop takes every process down."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from config import stack
from events.models import EventStatus
from tests import support
from tests.factories import EventFactory
from tests.liveroom.test_database_restart import give
from tests.support.liveroom import snapshot_where
from tests.support.processes import ROOT, PrivateRedis, Server, server_env

pytestmark = [
    pytest.mark.skipif(
        not Path(stack.RTMP_MODULE).exists(), reason="nginx-rtmp (libnginx-mod-rtmp) is missing"
    ),
    pytest.mark.serial,  # eight processes: run alone (Makefile)
]

ROLES = {"web", "worker", "beat", "stream_worker", "transcoder"}


def _two_free_ports() -> int:
    """A port whose next one is free too (supervisor numbers web processes consecutively)."""
    for _ in range(50):
        base = support.free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
        return base
    raise RuntimeError("no two consecutive free ports")


def healthz(front: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{front}/healthz", timeout=5) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as answer:  # 503: down, and why; 502: nginx, starting
        try:
            return json.load(answer)
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def all_green(front: str) -> bool:
    body = healthz(front)
    return bool(body) and body["status"] == "ok" and set(body["processes"]) >= ROLES


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def private_redis():
    """The stack's own Redis: its processes' heartbeats, broker and live room, apart from the
    web processes other tests start on the shared one."""
    server = PrivateRedis(port=support.free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def box(tmp_path, transactional_db, private_redis):
    ports = {name: support.free_port() for name in ("front", "lb", "origin", "edge", "rtmp")}
    web_port = _two_free_ports()
    env = server_env(
        {
            "ALLOW_SIMULATED_PAYMENTS": "1",
            "SECURE_COOKIES": "0",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "SERVE_STATIC": "0",  # nginx serves /static/ from STATIC_ROOT
            "TRANSCODER_POLL_MS": "500",
            "REDIS_URL": private_redis.url,
        }
    )
    run = tmp_path / "run"
    rendered = subprocess.run(
        [sys.executable, "-m", "config.stack", "conf", "--dir", str(run),
         "--listen", f"127.0.0.1:{ports['front']}", "--lb", f"127.0.0.1:{ports['lb']}",
         "--origin", f"127.0.0.1:{ports['origin']}", "--edge", f"127.0.0.1:{ports['edge']}",
         "--rtmp", f"127.0.0.1:{ports['rtmp']}", "--web-port", str(web_port),
         "--web-count", "2", "--worker-concurrency", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    supervisord = subprocess.Popen(
        [str(Path(sys.executable).parent / "supervisord"), "-c", str(run / "supervisord.conf")],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    front = f"http://127.0.0.1:{ports['front']}"
    try:
        support.wait_for(lambda: all_green(front), 120, interval=0.5, what="every part green")
        yield {"front": front, "run": run, "web_port": web_port, "proc": supervisord}
    finally:
        if supervisord.poll() is None:
            os.killpg(supervisord.pid, signal.SIGTERM)
            try:
                supervisord.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(supervisord.pid, signal.SIGKILL)
                supervisord.wait()


def test_the_stack_comes_up_gives_watches_restarts_and_stops(box):
    front = box["front"]
    event = EventFactory(status=EventStatus.LIVE)
    body = healthz(front)
    assert body is not None
    assert body["down"] == []
    assert len(body["processes"]["web"]) == 2
    pids = [p["pid"] for role in ROLES for p in body["processes"][role]]

    # The page through the front, its static files from nginx, HLS through the edge.
    with urllib.request.urlopen(f"{front}/events/{event.slug}/", timeout=10) as page:  # noqa: S310
        html = page.read().decode()
    static = re.search(r'/static/[^"\']+\.js', html)
    assert static is not None
    with urllib.request.urlopen(f"{front}{static.group(0)}", timeout=10) as script:  # noqa: S310
        assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    with pytest.raises(urllib.error.HTTPError) as unpublished:
        urllib.request.urlopen(f"{front}/live/{'0' * 32}/master.m3u8", timeout=10)  # noqa: S310
    assert unpublished.value.headers["X-Cache-Status"] is not None  # answered by the edge

    via_front = Server(port=int(front.rsplit(":", 1)[1]), proc=box["proc"])

    async def night() -> list[int]:
        seen = []
        async with connect(via_front.ws_url(event.slug), origin=front, open_timeout=20) as ws:
            await asyncio.to_thread(give, via_front, event.slug, event.pk, 2_500)
            seen.append((await snapshot_where(ws, lambda s: s["raised"] == 2_500, 20))["raised"])
            restarted = await asyncio.to_thread(
                stack.main,
                ["rolling-restart", "--dir", str(box["run"]), "--web-port",
                 str(box["web_port"]), "--web-count", "2", "--timeout", "60"],
            )  # fmt: skip
            assert restarted == 0
        # Every web process was replaced: the viewer reconnects, the gift lands once.
        async with connect(via_front.ws_url(event.slug), origin=front, open_timeout=20) as ws:
            await asyncio.to_thread(give, via_front, event.slug, event.pk, 4_000)
            seen.append((await snapshot_where(ws, lambda s: s["raised"] == 6_500, 20))["raised"])
        return seen

    assert asyncio.run(night()) == [2_500, 6_500]
    support.wait_for(lambda: all_green(front), 60, interval=0.5, what="green after the restart")
    webs = {p["pid"] for p in (healthz(front) or {})["processes"]["web"]}
    assert webs.isdisjoint(pids)

    os.killpg(box["proc"].pid, signal.SIGTERM)
    assert box["proc"].wait(timeout=60) == 0
    support.wait_for(lambda: not any(alive(pid) for pid in pids), 30, what="every process gone")
