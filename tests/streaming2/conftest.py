"""Streaming II fixtures: a real stack on loopback ports of our range (18600-18799).

- uvicorn running the web process (ingest, origin, RTMP hooks) on the test database;
- `manage.py transcoder`, the supervisor, with the same settings;
- one nginx, started from a generated nginx.conf that includes deploy/nginx/rtmp.conf and
  deploy/nginx/edge.conf as rendered by streaming.deployconf (the edge's origin: the web
  process);
- OBS-like publishers: ffmpeg encoding a test pattern and tone, publishing RTMP (FLV).
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from streaming import teststream
from streaming.deployconf import render_edge_conf, render_rtmp_conf
from tests import support

ROOT = Path(__file__).resolve().parent.parent.parent
PORTS = range(18600, 18800)
TARGET_DURATION = 1
WINDOW_SECONDS = 3
SIGNING_SECRET = "streaming2-tests-signing-secret-0123456789"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


def free_port() -> int:
    return support.free_port(PORTS)


wait_for = support.wait_for


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a process we started in its own session (and its children), by its id."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def http_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@dataclass
class Stack:
    web_port: int
    edge_port: int
    rtmp_port: int
    media_root: Path
    tmp: Path
    procs: list[subprocess.Popen]

    def shutdown(self) -> None:
        """Stop every server (idempotent). Transactional tests flush the database after each
        test: no server of ours may hold a lock on it then (TRUNCATE would deadlock)."""
        for proc in reversed(self.procs):
            stop_process(proc, signal.SIGTERM if proc.args[0] != "nginx" else signal.SIGQUIT)

    def web(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return http_get(self.web_port, path)

    def edge(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return http_get(self.edge_port, path)

    def rtmp_url(self, public_id: str, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{public_id}?key={key}"

    def publish(
        self,
        public_id: str,
        key: str,
        *,
        size: str = "640x360",
        kbps: int = 700,
        seconds: float = 60,
    ) -> subprocess.Popen:
        """An OBS-like encoder: H.264 with a keyframe every second and its bit rate in the
        FLV metadata (as OBS sends it), AAC audio, published over RTMP in real time."""
        cmd = [teststream.ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error",
               "-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
               "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
               "-pix_fmt", "yuv420p", "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k",
               "-bufsize", f"{kbps}k",
               "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
               "-c:a", "aac", "-b:a", "64k", "-ac", "2",
               "-f", "flv", self.rtmp_url(public_id, key)]  # fmt: skip
        return subprocess.Popen(cmd, stderr=subprocess.PIPE, start_new_session=True, cwd=self.tmp)


def _env(media_root: Path, web_port: int, rtmp_port: int) -> dict[str, str]:
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(media_root),
        "HLS_TARGET_DURATION": str(TARGET_DURATION),
        "HLS_WINDOW_SECONDS": str(WINDOW_SECONDS),
        "RTMP_PLAY_URL": f"rtmp://127.0.0.1:{rtmp_port}/live",
        "TRANSCODER_INGEST_URL": f"http://127.0.0.1:{web_port}/streaming/ingest",
        "TRANSCODER_POLL_MS": "200",
        "PLAYBACK_SIGNING_SECRET": SIGNING_SECRET,
        "LOG_LEVEL": "WARNING",
    }


def nginx_conf(*, tmp: Path, web_port: int, edge_port: int, rtmp_port: int) -> Path:
    """A whole nginx.conf around our two deploy configs, everything under `tmp`."""
    (tmp / "cache").mkdir()
    (tmp / "rtmp.conf").write_text(render_rtmp_conf(
        listen=f"127.0.0.1:{rtmp_port}", web=f"http://127.0.0.1:{web_port}",
        access_log=str(tmp / "rtmp_access.log"),
    ))  # fmt: skip
    (tmp / "edge.conf").write_text(render_edge_conf(
        listen=f"127.0.0.1:{edge_port}", origin=f"127.0.0.1:{web_port}",
        cache_dir=str(tmp / "cache"), access_log=str(tmp / "edge_access.log"),
        secret=SIGNING_SECRET,
    ))  # fmt: skip
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
load_module {RTMP_MODULE};
daemon off;
master_process on;
worker_processes 1;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log notice;
events {{ worker_connections 4096; }}
include {tmp}/rtmp.conf;
http {{
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    include {tmp}/edge.conf;
}}
""")
    return conf


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker) -> Iterator[Stack]:
    tmp = Path(tempfile.mkdtemp(prefix="pc-streaming2-"))
    media_root = tmp / "media"
    media_root.mkdir()
    web_port, edge_port, rtmp_port = free_port(), free_port(), free_port()
    env = _env(media_root, web_port, rtmp_port)
    procs: list[subprocess.Popen] = []
    stack = Stack(web_port, edge_port, rtmp_port, media_root, tmp, procs)
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(web_port), "--no-access-log", "--log-level", "warning",
             "--lifespan", "off"],
            cwd=ROOT, env=env, start_new_session=True,
        ))  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, "manage.py", "transcoder"], cwd=ROOT, env=env,
            start_new_session=True,
        ))  # fmt: skip
        conf = nginx_conf(tmp=tmp, web_port=web_port, edge_port=edge_port, rtmp_port=rtmp_port)
        procs.append(subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(tmp)], start_new_session=True,
        ))  # fmt: skip

        def ready() -> bool:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[:3]} exited at start")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{web_port}/healthz", timeout=2
                ) as response:
                    web_ok = response.status == 200
                with socket.create_connection(("127.0.0.1", rtmp_port), timeout=1):
                    pass
                with socket.create_connection(("127.0.0.1", edge_port), timeout=1):
                    pass
            except OSError:
                return False
            return web_ok

        wait_for(ready, 30, 0.1, what="the web process, the transcoder and nginx")
        yield stack
    finally:
        stack.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def signing_secret(settings):
    """This process signs with the servers' secret."""
    settings.PLAYBACK_SIGNING_SECRET = SIGNING_SECRET
    return SIGNING_SECRET
