"""The event page end to end: one real web process (uvicorn: pages, WebSockets, ingest and
origin, static files) and the streaming worker on the test database and Redis, real ffmpeg
pushing a test stream, and headless Chromium (tests/browser.py) looking at it.

The web process lives for this package only (its settings must not meet the streaming tests'
servers); the worker and the encoders live for one test each, and are stopped before the test
database is flushed: a flush (TRUNCATE) racing a worker's transaction would deadlock."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import Client

from streaming import ffmpeg, services, teststream
from streaming.models import Stream
from tests.browser import LAPTOP
from tests.factories import MembershipFactory, UserFactory
from tests.support import processes
from tests.support.processes import Server, start_server, stop_process

ROOT = Path(__file__).resolve().parent.parent.parent
TARGET_DURATION = 1  # short segments: the page goes live, and plays, within seconds
WINDOW_SECONDS = 4


@dataclass
class Platform:
    web: Server
    env: dict[str, str]  # the web process's, for the workers beside it
    procs: list[subprocess.Popen[bytes]]
    # The stream worker of the current test, started with its first encoder: pages without
    # video need none (it costs a process start per test).
    worker: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return self.web.origin

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def push(self, stream: Stream, key: str, *, seconds: float | None = None, renditions: int = 2):
        """ffmpeg pushing a test pattern (two renditions) into the stream's ingest, in real
        time; ENDLIST after `seconds`, or until the test's teardown kills it."""
        if self.worker is None:
            self.worker = processes.start_stream_worker(self.env, interval_s=0.25)
        proc = ffmpeg.start(
            teststream.push_command(
                ingest_url=f"{self.origin}/streaming/ingest/{stream.public_id}", key=key,
                target_duration=TARGET_DURATION, renditions=renditions, seconds=seconds,
            )
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def staff_dashboard(self, browser, event, *, role: str = "manager", device: dict = LAPTOP):
        """The event's live dashboard in its own browser context, signed in as a member of
        the event's campaign with `role`."""
        user = UserFactory(username=f"staff-{role}")
        MembershipFactory(campaign=event.campaign, user=user, role=role)
        client = Client()
        client.force_login(user)
        context = browser.new_context(**device)
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": self.origin}]
        )
        page = context.new_page()
        page.goto(self.url(f"/staff/events/{event.pk}/dashboard/"))
        return page


@pytest.fixture(scope="package")
def page_media_root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pc-page-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="package")
def platform(django_db_setup, page_media_root) -> Iterator[Platform]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("pc:live:*", count=1000):  # event ids repeat across runs
        client.delete(key)
    client.close()
    env = processes.server_env(
        {
            "MEDIA_ROOT": str(page_media_root),
            "HLS_TARGET_DURATION": str(TARGET_DURATION),
            "HLS_WINDOW_SECONDS": str(WINDOW_SECONDS),
            "LIVE_VIEWER_SAMPLE_SECONDS": "3600",  # no dashboard samples written behind a test
            "ALLOW_SIMULATED_PAYMENTS": "1",  # the simulated provider, as `make run` has it
            "SECURE_COOKIES": "0",  # staff's session and CSRF cookies over plain HTTP
        },
    )
    server = Platform(web=start_server(env=env), env=env, procs=[])
    try:
        yield server
    finally:
        for proc in server.procs:
            stop_process(proc)
        server.web.stop()


@pytest.fixture(autouse=True)
def page_settings(transactional_db, settings, page_media_root, platform) -> Iterator[None]:
    """Transactional: the web process reads committed rows. This process shares the servers'
    storage and stream settings."""
    settings.MEDIA_ROOT = page_media_root
    settings.HLS_TARGET_DURATION = TARGET_DURATION
    settings.HLS_WINDOW_SECONDS = WINDOW_SECONDS
    yield
    while platform.procs:  # this test's encoders
        stop_process(platform.procs.pop())
    if platform.worker is not None:
        stop_process(platform.worker)
        platform.worker = None
    # An encoder stopped with SIGTERM sends its ENDLIST, which the web process may still be
    # applying; ending every stream here waits for that transaction (the stream's row lock),
    # so nothing of the web process writes while the database is flushed.
    for stream_id in Stream.objects.exclude(state="ended").values_list("pk", flat=True):
        services.end_stream(stream_id=stream_id)


def new_stream(event_id: int, *, record: bool = True) -> tuple[Stream, str]:
    """The event's stream and its key (shown once)."""
    return services.create_stream(event_id=event_id, record=record)
