"""Simulcast through the real stack (about 40 s): an OBS-like encoder publishes over RTMP, the
show goes live, and `manage.py transcoder` copies the program to two destinations, local
nginx-rtmp servers standing in for YouTube and another server:

- "YouTube" is up from the start (it is there when the show goes live);
- "Backup" is added mid-show while its server is down, and comes up 10 s later.

Both end up receiving (ffprobe reads H.264 and AAC from each); Backup is retrying meanwhile,
then live. Turning YouTube off mid-show stops its copy; ending the show stops the other.
The scenario runs once per module; each test checks one behaviour of it."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest
from django.test import override_settings

from events.models import EventStatus
from streaming import ffmpeg, services, show
from streaming.models import SimulcastDestination, SimulcastService, Stream
from streaming.simulcast import services as simulcast
from tests import support
from tests.factories import EventFactory
from tests.support import processes, wait_for
from tests.support.rtmp import start_rtmp_receiver, start_stack
from tests.support.streaming import LOOPBACK_NETWORKS, TARGET_DURATION, WINDOW_SECONDS

pytestmark = pytest.mark.django_db(transaction=True)

YOUTUBE_KEY = "yt-key-0123456789abcdef"
BACKUP_KEY = "backup-key-fedcba9876543210"
DOWN_SECONDS = 10


class StateRecorder(threading.Thread):
    """Every distinct state a destination's row shows, polled every 0.1 s."""

    def __init__(self, destination_id: int) -> None:
        super().__init__(daemon=True)
        self.destination_id = destination_id
        self.states: list[str] = []
        self.errors: set[str] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.stopping.is_set():
                row = SimulcastDestination.objects.filter(pk=self.destination_id).first()
                if row is not None:
                    if not self.states or self.states[-1] != row.state:
                        self.states.append(row.state)
                    if row.last_error:
                        self.errors.add(row.last_error)
                self.stopping.wait(0.1)
        finally:
            connection.close()


def _probe(port: int, app: str, key: str) -> dict:
    """ffprobe playing what the receiver gets for `key`."""
    return ffmpeg.probe(
        f"rtmp://127.0.0.1:{port}/{app}/{key}",
        "-show_entries", "stream=codec_type,codec_name,width,height", timeout=20,
    )  # fmt: skip


def _state(destination_id: int) -> str:
    return SimulcastDestination.objects.get(pk=destination_id).state


@pytest.fixture(scope="module")
def scenario(django_db_setup, django_db_blocker):
    out: dict = {}
    stack = start_stack(env={
        # The receivers are on loopback: this run allows it as an operator's network.
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32",
        "SIMULCAST_MAX_BACKOFF_SECONDS": "2",
        "SIMULCAST_MAX_TRIES": "50",
    })  # fmt: skip
    youtube_port, backup_port = support.free_port(), support.free_port()
    receivers: list[subprocess.Popen[bytes]] = []
    publisher = None
    try:
        receivers.append(
            start_rtmp_receiver(port=youtube_port, app="live2", prefix=stack.tmp / "youtube")
        )
        with django_db_blocker.unblock(), override_settings(
            HLS_TARGET_DURATION=TARGET_DURATION, HLS_WINDOW_SECONDS=WINDOW_SECONDS,
            OUTBOUND_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,
        ):  # fmt: skip
            event = EventFactory(status=EventStatus.SCHEDULED)
            stream, key = services.create_stream(event_id=event.pk)
            youtube = simulcast.add_destination(
                event_id=event.pk,
                change=simulcast.DestinationChange(
                    service=SimulcastService.YOUTUBE, enabled=True, key=YOUTUBE_KEY,
                    url=f"rtmp://127.0.0.1:{youtube_port}/live2",
                ),
            )  # fmt: skip
            out["before_show"] = _state(youtube.pk)
            publisher = stack.publish(stream.public_id, key, seconds=120)
            wait_for(lambda: Stream.objects.get(pk=stream.pk).state == "live", 30, 0.1,
                     what="the stream live")  # fmt: skip
            show.go_live(event_id=event.pk)
            wait_for(lambda: _state(youtube.pk) == "live", 30, 0.1, what="YouTube live")

            # Mid-show: a destination whose server is down.
            backup = simulcast.add_destination(
                event_id=event.pk,
                change=simulcast.DestinationChange(
                    service=SimulcastService.CUSTOM, enabled=True, key=BACKUP_KEY,
                    url=f"rtmp://127.0.0.1:{backup_port}/live2",
                ),
            )  # fmt: skip
            added_at = time.monotonic()
            recorder = StateRecorder(backup.pk)
            recorder.start()
            wait_for(lambda: "retrying" in recorder.states, 20, 0.1, what="Backup retrying")
            # Its server comes up DOWN_SECONDS after it was added.
            threading.Event().wait(max(0.0, added_at + DOWN_SECONDS - time.monotonic()))
            receivers.append(
                start_rtmp_receiver(port=backup_port, app="live2", prefix=stack.tmp / "backup")
            )
            wait_for(lambda: _state(backup.pk) == "live", 30, 0.1, what="Backup live")
            out["probes"] = {
                "youtube": _probe(youtube_port, "live2", YOUTUBE_KEY),
                "backup": _probe(backup_port, "live2", BACKUP_KEY),
            }

            # YouTube turned off mid-show: its copy stops, Backup goes on.
            simulcast.update_destination(
                destination_id=youtube.pk,
                change=simulcast.DestinationChange(
                    service=SimulcastService.YOUTUBE, enabled=False,
                    url=f"rtmp://127.0.0.1:{youtube_port}/live2",
                ),
            )  # fmt: skip
            wait_for(lambda: _state(youtube.pk) == "stopped", 20, 0.1, what="YouTube stopped")
            out["youtube_off"] = SimulcastDestination.objects.get(pk=youtube.pk)
            out["backup_while_youtube_off"] = _state(backup.pk)

            show.end_show(event_id=event.pk)
            wait_for(lambda: _state(backup.pk) == "stopped", 20, 0.1, what="Backup stopped")
            recorder.stopping.set()
            recorder.join(5)
            out["backup_states"] = recorder.states
            out["backup_errors"] = recorder.errors
            out["backup_end"] = SimulcastDestination.objects.get(pk=backup.pk)
    finally:
        if publisher is not None and publisher.poll() is None:
            publisher.kill()
            publisher.wait()
        for receiver in receivers:
            processes.stop_nginx(receiver)
        # Before the first test's flush of the database (see Stack.shutdown).
        stack.shutdown()
    out["transcoder_log"] = (stack.tmp / "transcoder.log").read_text(errors="replace")
    shutil.rmtree(stack.tmp, ignore_errors=True)
    return out


def _codecs(probe: dict) -> list[tuple[str, str]]:
    return sorted((s["codec_type"], s["codec_name"]) for s in probe["streams"])


def test_both_destinations_receive_the_program(scenario):
    assert _codecs(scenario["probes"]["youtube"]) == [("audio", "aac"), ("video", "h264")]
    assert _codecs(scenario["probes"]["backup"]) == [("audio", "aac"), ("video", "h264")]
    (video,) = [s for s in scenario["probes"]["backup"]["streams"] if s["codec_type"] == "video"]
    assert (video["width"], video["height"]) == (640, 360)  # copied, not transcoded


def test_a_destination_waits_for_the_show(scenario):
    assert scenario["before_show"] == "stopped"


def test_the_destination_down_at_the_start_retries_then_goes_live(scenario):
    states = scenario["backup_states"]
    assert "retrying" in states
    assert "live" in states[states.index("retrying") :]
    assert any("Connection refused" in error for error in scenario["backup_errors"])


def test_a_destination_turned_off_mid_show_stops_and_the_other_goes_on(scenario):
    row = scenario["youtube_off"]
    assert (row.state, row.pid, row.runner) == ("stopped", None, "")
    assert scenario["backup_while_youtube_off"] == "live"


def test_ending_the_show_stops_every_copy(scenario):
    row = scenario["backup_end"]
    assert (row.state, row.pid, row.runner) == ("stopped", None, "")


def test_no_stream_key_reaches_a_log_line_or_a_stored_error(scenario):
    for key in (YOUTUBE_KEY, BACKUP_KEY):
        assert key not in scenario["transcoder_log"]
        assert not any(key in error for error in scenario["backup_errors"])
    assert any("<stream key>" in error for error in scenario["backup_errors"])
