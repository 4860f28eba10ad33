"""`manage.py run_dev`: what `make run` serves. The web process (uvicorn), the streaming worker
loop and a synthetic test stream pushed into the demo event, stopped together on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from events.models import Event, EventStatus
from streaming import ffmpeg, services, teststream
from streaming.models import Stream

DEMO_EVENT_SLUG = "demo-live"  # seed_demo's event


class Command(BaseCommand):
    help = "Serve the platform with a test stream in the demo event (Ctrl-C stops everything)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-stream", action="store_true", help="No test stream.")

    def handle(self, *args: Any, host: str, port: int, no_stream: bool, **options: Any) -> None:
        procs: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)  # Ctrl-C: the web process gets it too
        try:
            procs["web"] = subprocess.Popen(  # noqa: S603 (our own argv)
                [sys.executable, "-m", "config.serve", "--host", host, "--port", str(port)],
            )  # fmt: skip
            self._wait_ready(host, port, procs["web"])
            # Own sessions: the terminal's Ctrl-C reaches only this command and the web
            # process; this command stops the others itself.
            procs["worker"] = subprocess.Popen(
                [sys.executable, "manage.py", "stream_worker"], start_new_session=True
            )
            push = None if no_stream else self._push_command(host, port)
            started = 0.0
            while not stopping:
                pusher_down = "stream" not in procs or procs["stream"].poll() is not None
                if push is not None and pusher_down and time.monotonic() - started > 5:
                    # (Re)start the pusher; a restart shows as a discontinuity, as it should.
                    procs["stream"] = ffmpeg.start(push)
                    started = time.monotonic()
                if procs["web"].poll() is not None and not stopping:
                    raise CommandError("the web process exited")
                time.sleep(0.5)
        finally:
            # SIGKILL the encoder: a clean stop would send EXT-X-ENDLIST and end the demo.
            if "stream" in procs and procs["stream"].poll() is None:
                procs["stream"].kill()
            if "worker" in procs and procs["worker"].poll() is None:
                procs["worker"].terminate()
            if "web" in procs and procs["web"].poll() is None:
                procs["web"].send_signal(signal.SIGINT)
            for proc in procs.values():
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def _wait_ready(self, host: str, port: int, proc: subprocess.Popen[bytes]) -> None:
        """Until the web process accepts connections (uvicorn listens once the app loaded).
        A plain TCP connect: outbound HTTP goes through events.outbound only, which refuses
        loopback."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise CommandError("the web process exited at start")
            try:
                with socket.create_connection((host, port), timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise CommandError("the web process did not start listening")

    def _push_command(self, host: str, port: int) -> list[str] | None:
        event = Event.objects.filter(slug=DEMO_EVENT_SLUG).first()
        takes_video = (EventStatus.SCHEDULED, EventStatus.BACKSTAGE, EventStatus.LIVE)
        if event is None or event.status not in takes_video:
            self.stdout.write("Test stream: off (the demo event is not scheduled or live).")
            return None
        stream = Stream.objects.filter(event=event).first()
        if stream is None:
            stream, key = services.create_stream(event_id=event.pk)
        elif stream.state == "ended":
            self.stdout.write(
                "Test stream: off (the demo's show has ended: resume it on its live dashboard)."
            )
            return None
        else:
            # The key is stored hashed: a new one for this run (the demo's only encoder).
            key = services.rotate_stream_key(stream_id=stream.pk)
        try:
            executable = ffmpeg.ffmpeg_path()
        except ffmpeg.FfmpegMissing as exc:
            self.stdout.write(f"Test stream: off ({exc}).")
            return None
        ingest = f"http://{host}:{port}/streaming/ingest/{stream.public_id}"
        self.stdout.write(
            f"Test stream: ffmpeg test pattern pushed to {ingest}/ "
            f"(playlist http://{host}:{port}/live/{stream.public_id}/master.m3u8)"
        )
        return teststream.push_command(
            ingest_url=ingest,
            key=key,
            target_duration=stream.target_duration,
            renditions=2,  # so the player's quality menu has a choice
            ffmpeg=executable,
        )
