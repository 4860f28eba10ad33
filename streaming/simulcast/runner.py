"""One supervised ffmpeg per simulcast destination, run by `manage.py transcoder`.

`SimulcastSupervisor.tick()` (called by the transcoder's supervisor every round) asks which
destinations should be sent now (selectors.wanted: enabled, not failed, their show live),
takes or renews each one's lease (services.claim: one copy across every transcoder
machine), starts a `DestinationRunner` thread for each new one, restarts one whose settings
changed (its `version`), and stops those no longer wanted (the show ended, staff turned it
off or removed it: the state becomes "stopped").

A runner repeats, until stopped:

1. the program's source (selectors.program_source): nginx-rtmp beside this supervisor for a
   stream published over RTMP, else the origin's HLS; while there is none it says
   "connecting" and waits (the encoder dropped: not the destination's fault);
2. the destination's host checked by the outbound rules, again (DNS answers change): a
   refused host fails the destination at once;
3. ffmpeg `-c copy` to FLV at the destination: "connecting" until its first progress
   report (ffmpeg reports once the destination took the stream), then "live"; no progress
   for STALL_SECONDS: killed;
4. ffmpeg's exit while the program is still there is a failed try: "retrying" with its
   error (the key redacted) after a backoff of 1, 2, 4… s up to
   SIMULCAST_MAX_BACKOFF_SECONDS, "failed" after SIMULCAST_MAX_TRIES tries in a row (a copy
   live for RECOVERED_SECONDS starts the count again).

The key reaches ffmpeg's argv only (never a log line or a stored message: `redact`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable
from urllib.parse import quote

from django.conf import settings
from django.db import close_old_connections

from events import outbound
from streaming import ffmpeg
from streaming.simulcast import keybox, selectors, services

log = logging.getLogger(__name__)

STALL_SECONDS = 20.0
RECOVERED_SECONDS = 30.0
SOURCE_WAIT_SECONDS = 1.0
# ffmpeg's socket timeout on the destination (microseconds): a server that stops reading.
RW_TIMEOUT_US = 15_000_000
REDACTED = "<stream key>"


def publish_url(server: str, key: str) -> str:
    """The URL ffmpeg publishes to: the server URL, then the key as the stream name."""
    return f"{server.rstrip('/')}/{key}"


_CONTEXT_ADDRESS = re.compile(r" @ 0x[0-9a-f]+\]")


def redact(text: str, key: str) -> str:
    """A line of ffmpeg's stderr for staff: the key, as typed or percent-encoded, replaced;
    ffmpeg's memory addresses (`[tcp @ 0x55…]`) left out."""
    for form in {key, quote(key, safe="")}:
        if form:
            text = text.replace(form, REDACTED)
    return _CONTEXT_ADDRESS.sub("]", text)


def command(*, source: selectors.ProgramSource, target: str) -> list[str]:
    """ffmpeg copying the program (its first video and audio streams, as they are) to the
    destination as FLV, reporting progress on stdout."""
    if source.kind == "hls":
        # Start near the live edge of the origin's playlist (two segments back).
        reading = ["-live_start_index", "-2", "-i", source.url]
    else:
        reading = ["-i", source.url]
    return ffmpeg.base_command(
        *reading,
        "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy",
        "-f", "flv", "-rw_timeout", str(RW_TIMEOUT_US),
        "-progress", "pipe:1", "-stats_period", "0.5",
        target,
    )  # fmt: skip


class DestinationRunner(threading.Thread):
    """Keeps one destination's copy going until `stop()` or until it fails for good."""

    def __init__(self, *, plan: selectors.Plan, runner: str) -> None:
        super().__init__(name=f"simulcast-{plan.destination_id}", daemon=True)
        self.plan = plan
        self.runner = runner
        self.stopping = threading.Event()
        self.proc: subprocess.Popen[str] | None = None
        self.last_progress = time.monotonic()
        self.connected = False

    @property
    def destination_id(self) -> int:
        return self.plan.destination_id

    def stop(self) -> None:
        """SIGTERM to ffmpeg (it closes the FLV stream), SIGKILL 5 s later."""
        self.stopping.set()
        self._signal(signal.SIGTERM)
        killer = threading.Timer(5.0, self._signal, (signal.SIGKILL,))
        killer.daemon = True
        killer.start()

    def _signal(self, sig: int) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)

    def check_stalled(self) -> None:
        """Called every supervisor round: no progress for STALL_SECONDS kills ffmpeg (a
        destination that accepted the connection and then stopped taking the stream)."""
        if self.proc is not None and time.monotonic() - self.last_progress > STALL_SECONDS:
            log.warning("simulcast stalled: killing it",
                        extra={"destination_id": self.destination_id})  # fmt: skip
            self.last_progress = time.monotonic()
            self._signal(signal.SIGKILL)

    def run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("simulcast runner failed", extra={"destination_id": self.destination_id})
        finally:
            close_old_connections()

    def _loop(self) -> None:
        plan = self.plan
        try:
            key = keybox.unseal(plan.key_sealed)
        except keybox.KeyUnreadable as exc:
            self._failed(error=str(exc), tries=1, failed=True)
            return
        failures = 0
        waiting = False
        while not self.stopping.is_set():
            source = selectors.program_source(event_id=plan.event_id, runner=self.runner)
            if source is None:
                if not waiting:  # once per wait, not every second
                    self._connecting(pid=None)
                    waiting = True
                self.stopping.wait(SOURCE_WAIT_SECONDS)
                continue
            waiting = False
            try:
                outbound.check_stream_destination(plan.server)
            except outbound.OutboundError as exc:
                error = f"This server cannot be streamed to: {exc}."
                self._failed(error=error, tries=failures + 1, failed=True)
                return
            error, live_for = self._run_once(source, key)
            if self.stopping.is_set():
                return
            if selectors.program_source(event_id=plan.event_id, runner=self.runner) is None:
                continue  # the program stopped (the encoder left): wait for it
            if live_for >= RECOVERED_SECONDS:
                failures = 0
            failures += 1
            failed = failures >= settings.SIMULCAST_MAX_TRIES
            self._failed(error=error, tries=failures, failed=failed)
            if failed:
                return
            self.stopping.wait(min(settings.SIMULCAST_MAX_BACKOFF_SECONDS, 2 ** (failures - 1)))

    def _failed(self, *, error: str, tries: int, failed: bool) -> None:
        services.record_failure(destination_id=self.destination_id, runner=self.runner,
                                error=error, tries=tries, failed=failed)  # fmt: skip

    def _connecting(self, *, pid: int | None) -> None:
        services.record_connecting(destination_id=self.destination_id, runner=self.runner, pid=pid)

    def _run_once(self, source: selectors.ProgramSource, key: str) -> tuple[str, float]:
        """One ffmpeg run: its error (redacted) and how long it was live."""
        argv = command(source=source, target=publish_url(self.plan.server, key))
        self.proc = proc = ffmpeg.start_with_progress(argv)
        self.last_progress = time.monotonic()
        self._connecting(pid=proc.pid)
        errors: deque[str] = deque(maxlen=4)
        reader = threading.Thread(
            target=lambda: errors.extend(redact(line.strip(), key) for line in proc.stderr or ()),
            daemon=True,
        )
        reader.start()
        live_at = self._watch(proc.stdout or ())
        proc.wait()
        reader.join(5)
        self.proc = None
        live_for = time.monotonic() - live_at if live_at is not None else 0.0
        said = " | ".join(e for e in errors if e)
        return (f"ffmpeg exited with {proc.returncode}" + (f": {said}" if said else "")), live_for

    def _watch(self, stdout: Iterable[str]) -> float | None:
        """Read ffmpeg's progress until it exits; "live" at the first report of media sent.
        Returns when it went live (monotonic), or None."""
        live_at = None
        for line in stdout:
            name, _, value = line.strip().partition("=")
            if name != "out_time_us":
                continue
            self.last_progress = time.monotonic()
            if live_at is None and value.isdigit() and int(value) > 0:
                live_at = time.monotonic()
                services.record_live(destination_id=self.destination_id, runner=self.runner)
        return live_at


class SimulcastSupervisor:
    """Starts, restarts and stops destination runners as the database says (tick)."""

    def __init__(self, *, runner: str | None = None) -> None:
        self.runner = runner or settings.RTMP_SERVER_NAME
        self.runners: dict[int, DestinationRunner] = {}
        self.retiring: list[DestinationRunner] = []

    def tick(self) -> None:
        wanted = selectors.wanted(runner=self.runner)
        for destination_id, running in list(self.runners.items()):
            plan = wanted.get(destination_id)
            gone = plan is None or plan.version != running.plan.version
            if gone or not running.is_alive():
                if running.is_alive():
                    running.stop()
                self.retiring.append(running)
                del self.runners[destination_id]
            else:
                running.check_stalled()
        still: list[DestinationRunner] = []
        for old in self.retiring:
            if old.is_alive():
                still.append(old)
            else:
                # Stopped (or failed for good): the state says so, the lease is free.
                services.record_stopped(destination_id=old.destination_id, runner=self.runner)
        self.retiring = still
        busy = {r.destination_id for r in self.retiring}
        for destination_id, plan in wanted.items():
            if destination_id in busy:
                continue  # its previous copy is still closing
            if not services.claim(destination_id=destination_id, runner=self.runner):
                # Another supervisor runs it (ours, if any, lost its lease: two copies of
                # one destination would fight over its stream key).
                lost = self.runners.pop(destination_id, None)
                if lost is not None:
                    lost.stop()
                    self.retiring.append(lost)
                continue
            if destination_id not in self.runners:
                self.runners[destination_id] = fresh = DestinationRunner(
                    plan=plan, runner=self.runner
                )
                fresh.start()

    def stop(self) -> None:
        for running in self.runners.values():
            running.stop()
        for running in [*self.runners.values(), *self.retiring]:
            running.join(10)
            with contextlib.suppress(Exception):
                services.record_stopped(destination_id=running.destination_id, runner=self.runner)
