"""Streaming fixtures: a real web process and the stream worker on the test database (the
shared launcher, tests/support/processes.py), a media directory shared with them, and the
variants of the shared `stream` fixture that several modules need. Helpers live in
tests/support/streaming.py."""

from __future__ import annotations

import http.server
import shutil
import tempfile
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from streaming import services
from streaming.models import Stream, StreamMode
from tests.support import processes
from tests.support.streaming import (
    MAX_OBJECT_BYTES,
    TARGET_DURATION,
    WINDOW_SECONDS,
    WORKER_INTERVAL_S,
    StreamingServer,
    deliver,
    hls_env,
)


@pytest.fixture(scope="session")
def media_root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pc-streaming-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def server(django_db_setup, media_root) -> Iterator[StreamingServer]:
    """One web process and one stream worker for the whole session."""
    web = processes.start_server(env=hls_env(media_root))
    worker = processes.start_stream_worker(web.env, interval_s=WORKER_INTERVAL_S)
    try:
        yield StreamingServer(web=web, media_root=media_root)
    finally:
        processes.stop_process(worker)
        web.stop()


@pytest.fixture(autouse=True)
def streaming_settings(settings, media_root):
    """This process writes and reads the same storage, with the servers' settings."""
    settings.MEDIA_ROOT = media_root
    settings.HLS_TARGET_DURATION = TARGET_DURATION
    settings.HLS_WINDOW_SECONDS = WINDOW_SECONDS
    settings.HLS_MAX_OBJECT_BYTES = MAX_OBJECT_BYTES
    return settings


@pytest.fixture
def stream_and_key(scheduled_event) -> tuple[Stream, str]:
    """The scheduled event's stream and its key (for tests that act as its encoder)."""
    return services.create_stream(event_id=scheduled_event.pk)


@pytest.fixture
def live_stream(stream) -> Stream:
    """The shared `stream` once its first two segments (0 and 1, rendition "v") arrived: it
    is live, and so is its event."""
    deliver(stream, 0, 2)
    stream.refresh_from_db()
    return stream


@pytest.fixture
def manager(client, campaign, staff_factory):
    """The test client, logged in as a manager of `campaign`."""
    client.force_login(staff_factory(campaign, role="manager"))
    return client


@pytest.fixture
def relay_upstream(tmp_path) -> Iterator[tuple[Path, str]]:
    """A loopback HTTP server of `tmp_path`: the directory and its playlist URL (up.m3u8)."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}/up.m3u8"
    httpd.shutdown()


@pytest.fixture
def relay_stream(scheduled_event, relay_upstream) -> Stream:
    """The scheduled event's stream in relay mode, pulling `relay_upstream`."""
    _, url = relay_upstream
    stream, _ = services.create_stream(
        event_id=scheduled_event.pk, mode=StreamMode.RELAY, relay_url=url
    )
    return stream
