"""Streaming fixtures: a real uvicorn web process and the streaming worker on the test
database, a media directory shared with them, real ffmpeg, and HTTP helpers."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests import support

ROOT = Path(__file__).resolve().parent.parent.parent
PORTS = range(18400, 18600)  # streaming's range on this machine
# Short segments keep the streaming tests fast (the issue allows 1 s); window = 3 TD.
TARGET_DURATION = 1
WINDOW_SECONDS = 3
MAX_OBJECT_BYTES = 2_000_000
WORKER_INTERVAL_S = 0.25


def free_port() -> int:
    return support.free_port(PORTS)


wait_for = support.wait_for


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@dataclass
class Server:
    port: int
    web: Proc
    worker: Proc
    media_root: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ingest_url(self, public_id: str) -> str:
        return f"{self.origin}/streaming/ingest/{public_id}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict | None = None,
        chunks: list[bytes] | None = None,
    ) -> tuple[int, str]:
        """A request with the path sent exactly as given (no normalisation)."""  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if chunks is not None:
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                for chunk in chunks:
                    try:
                        conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    except OSError:
                        break  # the server answered early and closed: read its answer
                else:
                    conn.send(b"0\r\n\r\n")
            else:
                conn.putheader("Content-Length", str(len(body or b"")))
                conn.endheaders(body or b"")
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()


def _env(database_name: str, media_root: Path) -> dict[str, str]:
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{database_name}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(media_root),
        "HLS_TARGET_DURATION": str(TARGET_DURATION),
        "HLS_WINDOW_SECONDS": str(WINDOW_SECONDS),
        "HLS_MAX_OBJECT_BYTES": str(MAX_OBJECT_BYTES),
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
def media_root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pc-streaming-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def server(django_db_setup, media_root) -> Iterator[Server]:
    """One web process and one streaming worker for the whole session."""
    env = _env(settings.DATABASES["default"]["NAME"], media_root)
    port = free_port()
    web = Proc(subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning", "--lifespan", "off"],
        cwd=ROOT, env=env, start_new_session=True,
    ))  # fmt: skip
    worker = Proc(subprocess.Popen(
        [sys.executable, "manage.py", "stream_worker", "--interval", str(WORKER_INTERVAL_S)],
        cwd=ROOT, env=env, start_new_session=True,
    ))  # fmt: skip
    srv = Server(port=port, web=web, worker=worker, media_root=media_root)

    def ready() -> bool:
        if web.proc.poll() is not None:
            raise RuntimeError("the web process exited at start")
        try:
            with urllib.request.urlopen(f"{srv.origin}/healthz", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(ready, 30, what="the web process")
        yield srv
    finally:
        worker.stop()
        web.stop()


@pytest.fixture(autouse=True)
def streaming_settings(settings, media_root):
    """This process writes and reads the same storage, with the servers' settings."""
    settings.MEDIA_ROOT = media_root
    settings.HLS_TARGET_DURATION = TARGET_DURATION
    settings.HLS_WINDOW_SECONDS = WINDOW_SECONDS
    settings.HLS_MAX_OBJECT_BYTES = MAX_OBJECT_BYTES
    return settings


def stored_files(media_root: Path, public_id: str) -> list[str]:
    """Every file the stream has anywhere in storage (ingest area and published tree)."""
    found = []
    for area in ("ingest", "live"):
        base = media_root / area / public_id
        if base.exists():
            found += sorted(str(p.relative_to(media_root)) for p in base.rglob("*") if p.is_file())
    return found


def temp_files(media_root: Path) -> list[str]:
    tmp = media_root / ".tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []
