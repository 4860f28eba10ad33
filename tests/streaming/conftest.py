"""Streaming fixtures: a real web process and the stream worker on the test database (the
shared launcher, tests/support/processes.py), a media directory shared with them, and the
variants of the shared `stream` fixture that several modules need. Helpers live in
tests/support/streaming.py."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming import ffmpeg, services, show
from streaming.models import Stream, StreamMode
from tests.support import processes
from tests.support.streaming import (
    LOOPBACK_NETWORKS,
    MAX_OBJECT_BYTES,
    SIGNING_SECRET,
    TARGET_DURATION,
    WINDOW_SECONDS,
    WORKER_INTERVAL_S,
    StreamingServer,
    UpstreamServer,
    VideoPath,
    deliver,
    hls_env,
    start_video_path,
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


@pytest.fixture(scope="session")
def video_path(server, tmp_path_factory) -> Iterator[VideoPath]:
    """nginx with deploy/nginx/ in front of the session's web process, for the whole session:
    the origin with an edge in front of it, and an edge straight in front of the web process."""
    path = start_video_path(
        web_port=server.port, media_root=server.media_root,
        prefix=tmp_path_factory.mktemp("video-path"),
    )  # fmt: skip
    yield path
    path.stop()


@pytest.fixture(autouse=True)
def streaming_settings(settings, media_root):
    """This process writes and reads the same storage, with the servers' settings."""
    settings.PLAYBACK_SIGNING_SECRET = SIGNING_SECRET
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
    """The shared `stream` once its first two segments (0 and 1, rendition "v") arrived and
    staff pressed "Go live": it is receiving, and its event is live."""
    deliver(stream, 0, 2)
    show.go_live(event_id=stream.event_id)
    stream.refresh_from_db()
    return stream


@pytest.fixture
def manager(client, campaign, staff_factory):
    """The test client, logged in as a manager of `campaign`."""
    client.force_login(staff_factory(campaign, role="manager"))
    return client


@pytest.fixture
def upstream(tmp_path) -> Iterator[UpstreamServer]:
    """A loopback HTTP server of `tmp_path` that records what it was asked (no allow-list:
    a relay must refuse it)."""
    server = UpstreamServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def relay_upstream(settings, upstream) -> tuple[Path, str]:
    """`upstream`, allowed the way an operator relaying from its own network allows it
    (OUTBOUND_ALLOWED_NETWORKS): the directory and its playlist URL (up.m3u8)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    return upstream.directory, upstream.url("/up.m3u8")


@pytest.fixture
def relay_stream(scheduled_event, relay_upstream) -> Stream:
    """The scheduled event's stream in relay mode, pulling `relay_upstream`."""
    _, url = relay_upstream
    stream, _ = services.create_stream(
        event_id=scheduled_event.pk, mode=StreamMode.RELAY, relay_url=url
    )
    return stream


@pytest.fixture
def show_file(tmp_path) -> str:
    """A 2-second H.264 and AAC file (a test pattern at 30 fps, a tone at 44.1 kHz): what
    staff would stream. Looped with -stream_loop, ffmpeg leaves a gap in the video where it
    starts over, as with real files."""
    path = tmp_path / "show.mp4"
    subprocess.run(
        ffmpeg.base_command(
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "2",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path),
        ),
        check=True, timeout=60,
    )  # fmt: skip
    return str(path)
