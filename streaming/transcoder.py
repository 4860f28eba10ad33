"""The transcoder: one supervised ffmpeg per stream that OBS publishes over RTMP.

`Supervisor` (run by `manage.py transcoder`, one per machine that runs nginx-rtmp) polls the
database for streams whose transcoder is `publishing` (set when nginx-rtmp's on_publish hook
accepts the encoder) and keeps one `Runner` thread per such stream. A runner plays the RTMP
stream at once with the tap (streaming/tap.py: ffmpeg copying it as FLV to a pipe), probes the
head of what the tap copied (ffprobe), picks the renditions (ladder.plan), and runs the
ladder's ffmpeg (ladder.command, through streaming.ffmpeg), fed everything the tap copied from
the first seconds of the broadcast on, paced so that what piled up meanwhile is caught up
without a burst of segments (tap.Feed). The ladder's ffmpeg PUTs HLS to our ingest with the
stream's transcoder token. The runner watches it:

- its progress (`-progress pipe:1`): the speed, measured as media seconds per wall second over
  the last few seconds; below 1.0 for 10 s (beyond 3 % of jitter) it cannot keep real time:
  `behind_since` is set for staff (admin) and a warning logged, and cleared when it recovers;
- no progress at all for STALL_SECONDS: killed (and restarted);
- its exit while the stream is still publishing: restarted at once (then with a backoff if it
  keeps dying). The new ffmpeg's numbering restarts and its first segment carries
  EXT-X-DISCONTINUITY (`discont_start`), so our playlist writer marks a discontinuity.

When on_publish_done clears `publishing` (or the stream ends), the runner stops the tap: the
ladder's ffmpeg gets the rest of what was copied at once, then the end of its input, and
exits after flushing its last segment (it writes no EXT-X-ENDLIST).

The same supervisor's round runs the simulcast destinations' copies
(streaming/simulcast/runner.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from streaming import ffmpeg, ladder, signing, tap
from streaming.models import StreamState, Transcoder
from streaming.simulcast.runner import SimulcastSupervisor

log = logging.getLogger(__name__)

BEHIND_AFTER_SECONDS = 10.0
SPEED_WINDOW_SECONDS = 3.0
SPEED_TOLERANCE = 0.03
STALL_SECONDS = 15.0
PROGRESS_WRITE_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0
# What the ladder's ffmpeg was fed but has not published when the encoder stops is the
# transcoder's lag behind it (a second or two): enough to encode that at half real time.
FLUSH_SECONDS = 10.0
PLAYABLE = (StreamState.IDLE, StreamState.LIVE, StreamState.RECONNECTING, StreamState.STALLED)


class SpeedWatch:
    """Real-time keeping from ffmpeg's progress reports (`feed(out_time_s, now)`, monotonic
    seconds). ffmpeg's own `speed=` is averaged since it started, so for a live input it stays
    below 1.0 by the start-up delay forever; this measures the recent rate instead."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, float]] = deque()
        self.slow_since: float | None = None
        self.speed: float | None = None

    def feed(self, out_time_s: float, now: float) -> None:
        self.samples.append((now, out_time_s))
        while len(self.samples) > 2 and now - self.samples[1][0] >= SPEED_WINDOW_SECONDS:
            self.samples.popleft()
        first_t, first_media = self.samples[0]
        if now - first_t < SPEED_WINDOW_SECONDS * 0.8:
            return  # not enough history yet
        self.speed = (out_time_s - first_media) / (now - first_t)
        if self.speed < 1.0 - SPEED_TOLERANCE:
            if self.slow_since is None:
                self.slow_since = first_t  # slow over the whole window
        else:
            self.slow_since = None

    def behind(self, now: float) -> bool:
        return self.slow_since is not None and now - self.slow_since >= BEHIND_AFTER_SECONDS


# --- state kept for staff (the Transcoder row) ----------------------------------------------


def _row(stream_id: int) -> Transcoder | None:
    # None once the stream is deleted under a running transcoder: nothing left to report to.
    return Transcoder.objects.select_for_update().filter(stream_id=stream_id).first()


def still_publishing(*, stream_id: int) -> bool:
    return Transcoder.objects.filter(
        stream_id=stream_id, publishing=True, stream__state__in=PLAYABLE
    ).exists()


@transaction.atomic
def record_started(*, stream_id: int, pid: int, rungs: str, restart: bool) -> None:
    row = _row(stream_id)
    if row is None:
        return
    row.pid, row.rungs, row.started_at = pid, rungs[:200], timezone.now()
    row.speed, row.behind_since, row.last_progress_at = None, None, None
    row.restarts += int(restart)
    row.save()


@transaction.atomic
def record_progress(*, stream_id: int, speed: float | None, behind_since: datetime | None) -> None:
    row = _row(stream_id)
    if row is None:
        return
    if behind_since is not None and row.behind_since is None:
        log.warning("transcoder cannot keep real time",
                    extra={"stream_id": stream_id, "speed": speed})  # fmt: skip
    row.speed, row.behind_since, row.last_progress_at = speed, behind_since, timezone.now()
    row.save(update_fields=["speed", "behind_since", "last_progress_at"])


@transaction.atomic
def record_exit(*, stream_id: int, error: str) -> None:
    row = _row(stream_id)
    if row is None:
        return
    row.pid = None
    if error:
        row.last_error, row.last_error_at = error[:500], timezone.now()
    row.save(update_fields=["pid", "last_error", "last_error_at"])


def wanted_streams() -> dict[int, dict[str, Any]]:
    """Streams that should have a transcoder here now (published to this machine's
    nginx-rtmp, RTMP_SERVER_NAME): stream id → what the runner needs."""
    rows = Transcoder.objects.filter(
        publishing=True, stream__state__in=PLAYABLE, rtmp_server=settings.RTMP_SERVER_NAME
    )
    return {
        row["stream_id"]: dict(row)
        for row in rows.values(
            "stream_id", "stream__public_id", "stream__key_hash", "stream__ladder",
            "stream__target_duration", "stream__latency",
        )
    }  # fmt: skip


# --- one stream -------------------------------------------------------------------------------


def probe_head(head: bytes) -> ladder.Source | None:
    """What the FLV bytes `head` (the tap's first output) carry, or None."""
    try:
        data = ffmpeg.probe(
            "pipe:0", "-show_entries",
            "stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,bit_rate",
            timeout=10, data=head,
        )  # fmt: skip
    except ffmpeg.ProbeFailed:
        return None
    try:
        return ladder.parse_probe(data)
    except (ValueError, TypeError):
        return None


class Runner(threading.Thread):
    """Keeps one ffmpeg running for one stream until `stop()`."""

    def __init__(self, *, stream_id: int, info: dict[str, Any]) -> None:
        super().__init__(name=f"transcoder-{stream_id}", daemon=True)
        self.stream_id = stream_id
        self.public_id = str(info["stream__public_id"])
        self.token = signing.transcoder_token(
            public_id=self.public_id, key_hash=str(info["stream__key_hash"])
        )
        self.ladder = str(info["stream__ladder"])
        self.target_duration = int(info["stream__target_duration"])
        # Low latency: ffmpeg cuts parts (streaming/publishing.py groups them into segments).
        self.segment_seconds: float | None = (
            settings.HLS_PART_TARGET_MS / 1000 if info.get("stream__latency") == "low" else None
        )
        self.stopping = threading.Event()
        self.proc: subprocess.Popen[str] | None = None
        self.tapping: subprocess.Popen[bytes] | None = None
        self.last_progress = time.monotonic()
        self.starts = 0

    def stop(self) -> None:
        """Stop the tap: the ladder's ffmpeg gets the rest of what the tap copied at once,
        then the end of its input, and exits once it has published it all. SIGTERM to it
        (it flushes its current segment) if it still runs FLUSH_SECONDS later, SIGKILL to
        both 5 s after that."""
        self.stopping.set()
        self._signal(signal.SIGTERM, only_tap=True)
        for delay, sig in ((FLUSH_SECONDS, signal.SIGTERM), (FLUSH_SECONDS + 5, signal.SIGKILL)):
            killer = threading.Timer(delay, self._signal, (sig,))
            killer.daemon = True
            killer.start()

    def _signal(self, sig: int, *, only_tap: bool = False) -> None:
        for proc in (self.tapping, None if only_tap else self.proc):
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)

    def check_stalled(self) -> None:
        """Called by the supervisor: an ffmpeg with no progress for STALL_SECONDS is killed."""
        if self.proc is not None and time.monotonic() - self.last_progress > STALL_SECONDS:
            log.warning("transcoder stalled: killing it", extra={"stream_id": self.stream_id})
            self.last_progress = time.monotonic()
            self._signal(signal.SIGKILL)

    def run(self) -> None:
        backoff = 0.0
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                error = self._run_once()
                if self.stopping.is_set() or not still_publishing(stream_id=self.stream_id):
                    # The encoder left (nginx-rtmp dropped its players): publish_done follows.
                    record_exit(stream_id=self.stream_id, error="")
                    break
                # Died while the encoder still publishes: restart (a discontinuity follows).
                log.warning("transcoder exited: restarting",
                            extra={"stream_id": self.stream_id, "starts": self.starts})  # fmt: skip
                record_exit(stream_id=self.stream_id, error=error or "ffmpeg exited")
                lived = time.monotonic() - started
                backoff = 0.0 if lived > 30 else min(MAX_BACKOFF_SECONDS, backoff * 2 or 0.5)
                if self.starts <= 1:
                    backoff = 0.0
                self.stopping.wait(backoff)
        finally:
            close_old_connections()

    def _run_once(self) -> str:
        url = f"{settings.RTMP_PLAY_URL.rstrip('/')}/{self.public_id}"
        # The tap plays the stream at once; the ladder's ffmpeg gets all it copied (tap.py).
        self.tapping = tapping = ffmpeg.start(
            ladder.tap_command(ffmpeg=ffmpeg.ffmpeg_path(), input_url=url),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            return self._transcode(tapping)
        finally:
            self._signal(signal.SIGKILL)  # the tap, if the ladder's ffmpeg ended first
            tapping.wait()
            if tapping.stdout is not None:
                tapping.stdout.close()

    def _transcode(self, tapping: subprocess.Popen[bytes]) -> str:
        assert tapping.stdout is not None  # noqa: S101 (started with stdout=PIPE)
        tap_fd = tapping.stdout.fileno()
        head = tap.read_head(tap_fd, self.stopping)
        if self.stopping.is_set():
            return ""
        source = probe_head(head) if head else None
        if source is None:
            return "No video from the encoder yet (ffprobe found no video stream)."
        outputs = ladder.plan(ladder=self.ladder, source=source)
        cmd = ladder.command(
            ffmpeg=ffmpeg.ffmpeg_path(), input_url="pipe:0", token=self.token,
            ingest_url=f"{settings.TRANSCODER_INGEST_URL.rstrip('/')}/{self.public_id}",
            outputs=outputs, source=source, target_duration=self.target_duration,
            segment_seconds=self.segment_seconds,
        )  # fmt: skip
        readable, writable = os.pipe()
        try:
            self.proc = proc = ffmpeg.start_with_progress(cmd, stdin=readable)
        except BaseException:
            os.close(writable)
            raise
        finally:
            os.close(readable)  # the ladder's ffmpeg has its own copy
        sink = os.fdopen(writable, "wb")
        feed = tap.Feed(head=head, tap_fd=tap_fd, sink=sink, stopping=self.stopping)
        feed.start()
        self.last_progress = time.monotonic()
        rungs = ", ".join(f"{o.name}{' (copy)' if o.rung is None else ''}" for o in outputs)
        record_started(stream_id=self.stream_id, pid=proc.pid, rungs=rungs, restart=self.starts > 0)
        self.starts += 1
        log.info("transcoder started", extra={"stream_id": self.stream_id, "rungs": rungs,
                                               "pid": proc.pid})  # fmt: skip
        errors: deque[str] = deque(maxlen=5)
        reader = threading.Thread(
            target=lambda: errors.extend(line.strip() for line in proc.stderr or ()), daemon=True
        )
        reader.start()
        self._watch_progress(proc.stdout or ())
        proc.wait()
        reader.join(5)
        self._signal(signal.SIGKILL)  # the tap: nothing reads it any more
        feed.join(5)
        if self.stopping.is_set():
            record_exit(stream_id=self.stream_id, error="")
            return ""
        return f"ffmpeg exited with {proc.returncode}: " + " | ".join(errors)

    def _watch_progress(self, stdout: Iterable[str]) -> None:
        watch = SpeedWatch()
        last_write = 0.0
        behind_since: datetime | None = None
        for line in stdout:
            name, _, value = line.strip().partition("=")
            if name == "out_time_us" and value.lstrip("-").isdigit():
                now = time.monotonic()
                self.last_progress = now
                watch.feed(int(value) / 1e6, now)
                behind = watch.behind(now)
                behind_since = (behind_since or timezone.now()) if behind else None
                if now - last_write >= PROGRESS_WRITE_SECONDS:
                    last_write = now
                    speed = round(watch.speed, 3) if watch.speed is not None else None
                    record_progress(
                        stream_id=self.stream_id, speed=speed, behind_since=behind_since
                    )


class Supervisor:
    """Starts and stops runners as streams start and stop publishing."""

    def __init__(self, *, poll_seconds: float | None = None) -> None:
        self.poll_seconds = poll_seconds or settings.TRANSCODER_POLL_MS / 1000
        self.runners: dict[int, Runner] = {}
        self.retiring: list[Runner] = []
        self.stopping = threading.Event()
        self.simulcast = SimulcastSupervisor()

    def tick(self) -> None:
        close_old_connections()
        wanted = wanted_streams()
        for stream_id, runner in list(self.runners.items()):
            if stream_id not in wanted or not runner.is_alive():
                runner.stop()  # not joined here: one slow stop must not hold up the others
                self.retiring.append(runner)
                del self.runners[stream_id]
            else:
                runner.check_stalled()
        self.retiring = [r for r in self.retiring if r.is_alive()]
        # An encoder back before its last ffmpeg has flushed what it was fed waits for it:
        # two ffmpegs must not PUT the same renditions at once.
        flushing = {r.stream_id for r in self.retiring}
        for stream_id, info in wanted.items():
            if stream_id not in self.runners and stream_id not in flushing:
                self.runners[stream_id] = runner = Runner(stream_id=stream_id, info=info)
                runner.start()
        self.simulcast.tick()

    def run(self) -> None:
        try:
            running = False
            while not self.stopping.is_set():
                try:
                    self.tick()
                    if not running:
                        running = True
                        log.info("transcoder supervisor running",
                                 extra={"poll_seconds": self.poll_seconds})  # fmt: skip
                except Exception:
                    # A bad round (the database restarting) must not stop the supervisor.
                    log.exception("transcoder supervisor round failed")
                self.stopping.wait(self.poll_seconds)
        finally:
            for runner in self.runners.values():
                runner.stop()
            self.simulcast.stop()
            for runner in [*self.runners.values(), *self.retiring]:
                runner.join(15)


def health_text(*, stream_id: int) -> str:
    """What staff see about a stream's transcoder (the admin): running or not, rungs, speed,
    restarts, and whether it cannot keep real time."""
    row = Transcoder.objects.filter(stream_id=stream_id).first()
    if row is None:
        return "No RTMP publish yet."
    if not row.publishing:
        state = "Not publishing (the encoder is not connected)."
    elif row.pid is None:
        state = "Publishing; starting the transcoder…"
    else:
        speed = f"{row.speed:.2f}x" if row.speed is not None else "measuring"
        state = f"Running: {row.rungs or '—'}; speed {speed}."
    if row.publishing and row.behind_since is not None:
        state += (
            f" CANNOT KEEP REAL TIME since {row.behind_since:%H:%M:%S} UTC: choose passthrough "
            "or lower the encoder's resolution."
        )
    if row.restarts:
        state += f" Restarted {row.restarts} time(s)."
    if row.last_error:
        state += f" Last error ({row.last_error_at:%H:%M:%S} UTC): {row.last_error}"
    return state
