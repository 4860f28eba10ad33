"""The tap: an RTMP broadcast from its first seconds, fed to the ladder's ffmpeg in real time.

nginx-rtmp sends a new player the stream from where it has got to (its next keyframe), so
probing the stream (ffprobe, seconds) before playing it lost those seconds. The transcoder
plays it at once instead, with the tap (ladder.tap_command: ffmpeg copying the stream as FLV
to a pipe), probes the head of what the tap copied (`read_head`) and feeds everything, that
head included, to the ladder's ffmpeg on its stdin (`Feed`).

What the tap copied while the transcoder probed and started the ladder is a backlog of
seconds. Fed at once, the ladder published it as a burst of segments: the live playlist slid
by several segments within a moment, and an edge, which serves a playlist for up to its
max-age plus stale-while-revalidate, never showed viewers the segments in between (after a
restart, the one carrying EXT-X-DISCONTINUITY, so that their discontinuity sequence jumped).
`Feed` paces the FLV by its own timestamps (`Pacer`): at most CATCH_UP times real time after
a first BURST_SECONDS, so the backlog is caught up over tens of seconds while every segment
stays in the playlist for most of the window. Pure Python and threads: no database.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import select
import threading
import time
from collections.abc import Iterator
from typing import IO

# The head of the stream the tap copies before it is probed: the codecs' headers and a few
# frames (a longer head is a longer backlog).
HEAD_SECONDS = 0.3
HEAD_MAX_BYTES = 8 << 20
HEAD_TIMEOUT_SECONDS = 15.0
# Media seconds per wall second while a backlog is caught up. With the shortest window RFC
# 8216 allows (3 target durations), a segment stays in the playlist for 3 / CATCH_UP = 2.7
# target durations: longer than an edge serves a playlist stale (max-age + swr: 2 at most).
CATCH_UP = 1.05
BURST_SECONDS = 0.1
# A timestamp further ahead than this is the encoder's clock jumping, not media to wait for.
MAX_STEP_SECONDS = 1.0
EPSILON_SECONDS = 1e-6  # what rounding leaves short: no wait shorter than this
# Chunks (of up to 64 KiB) read from the tap and not yet fed: about 30 s at 8 Mbit/s. Past
# that the tap waits (the ladder's ffmpeg cannot keep up).
QUEUE_CHUNKS = 512
CHUNK_BYTES = 65536
SINK_PIPE_BYTES = 4096
FLV_HEADER_BYTES = 9 + 4  # the file header, then PreviousTagSize0
FLV_TAG_HEADER_BYTES = 11


def read_head(fd: int, stopping: threading.Event) -> bytes:
    """What the tap wrote in its first HEAD_SECONDS from its first byte (at most
    HEAD_MAX_BYTES; less at its end, at `stopping` or after HEAD_TIMEOUT_SECONDS)."""
    head = bytearray()
    start = time.monotonic()
    first: float | None = None
    while len(head) < HEAD_MAX_BYTES and not stopping.is_set():
        now = time.monotonic()
        if (first is not None and now - first >= HEAD_SECONDS) or (
            now - start >= HEAD_TIMEOUT_SECONDS
        ):
            break
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        chunk = os.read(fd, CHUNK_BYTES)
        if not chunk:
            break
        head += chunk
        first = first or time.monotonic()
    return bytes(head)


class FlvTags:
    """Splits an FLV byte stream into pieces that can be written one at a time: the file
    header (timestamp None), then each tag with its trailing size (timestamp in ms). A stream
    that is not FLV passes through as it comes, with no timestamps."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.started = False
        self.flv = True

    def feed(self, data: bytes) -> Iterator[tuple[int | None, bytes]]:
        if not self.flv:
            yield None, data
            return
        self.buffer += data
        if not self.started:
            if len(self.buffer) < FLV_HEADER_BYTES:
                return
            self.started = True
            if not self.buffer.startswith(b"FLV"):
                self.flv = False
                yield None, bytes(self.buffer)
                self.buffer.clear()
                return
            yield None, bytes(self.buffer[:FLV_HEADER_BYTES])
            del self.buffer[:FLV_HEADER_BYTES]
        while len(self.buffer) >= FLV_TAG_HEADER_BYTES:
            size = FLV_TAG_HEADER_BYTES + int.from_bytes(self.buffer[1:4], "big") + 4
            if len(self.buffer) < size:
                return
            timestamp = int.from_bytes(self.buffer[4:7], "big") | self.buffer[7] << 24
            yield timestamp, bytes(self.buffer[:size])
            del self.buffer[:size]


class Pacer:
    """A token bucket of media seconds: it fills at `rate` per wall second up to `burst`,
    and a tag costs how far its timestamp moves the stream on. Timestamps that go back
    (audio and video interleave) or jump by more than MAX_STEP_SECONDS cost nothing."""

    def __init__(self, *, rate: float = CATCH_UP, burst: float = BURST_SECONDS) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.filled_at: float | None = None
        self.last_ms: int | None = None

    def delay(self, timestamp_ms: int, now: float) -> float:
        """0 if the tag stamped `timestamp_ms` may go at `now` (it is then paid for), else
        the seconds to wait before asking again."""
        if self.filled_at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.filled_at) * self.rate)
        self.filled_at = now
        step = 0.0 if self.last_ms is None else (timestamp_ms - self.last_ms) / 1000
        if not 0 < step <= MAX_STEP_SECONDS:
            step = 0.0
        # A step longer than the bucket holds goes once the bucket is full (it then owes).
        needed = min(step, self.burst)
        if needed - self.tokens > EPSILON_SECONDS:
            return (needed - self.tokens) / self.rate
        self.tokens -= step
        self.last_ms = timestamp_ms if self.last_ms is None else max(self.last_ms, timestamp_ms)
        return 0.0


class Feed:
    """Feeds `head`, then all the tap writes on `tap_fd`, to `sink` (the ladder's stdin),
    paced by a Pacer until `stopping` (then at once); closes `sink` when the tap ends (the
    ladder then flushes its last segment) or the ladder is gone. Two threads: one reads the
    tap as fast as it writes (nginx-rtmp drops what a player is too slow to take), the other
    paces and writes."""

    def __init__(
        self, *, head: bytes, tap_fd: int, sink: IO[bytes], stopping: threading.Event
    ) -> None:
        self.tap_fd, self.sink, self.stopping = tap_fd, sink, stopping
        # The backlog waits here, paced, not in the pipe: the ladder's ffmpeg would read a
        # full pipe (64 KiB: half a second of a 1 Mbit/s stream) at once when it starts.
        with contextlib.suppress(OSError, AttributeError):  # F_SETPIPE_SZ: Linux only
            fcntl.fcntl(sink.fileno(), fcntl.F_SETPIPE_SZ, SINK_PIPE_BYTES)
        self.chunks: queue.Queue[bytes | None] = queue.Queue(QUEUE_CHUNKS)
        self.chunks.put(head)
        self.closed = threading.Event()
        self.threads = [
            threading.Thread(target=self._read, name="tap-read", daemon=True),
            threading.Thread(target=self._write, name="tap-write", daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self, timeout: float) -> None:
        for thread in self.threads:
            thread.join(timeout)

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self.tap_fd, CHUNK_BYTES):
                if not self._put(chunk):
                    return
        self._put(None)

    def _put(self, chunk: bytes | None) -> bool:
        """Queue `chunk` unless the writer is gone (False)."""
        while not self.closed.is_set():
            with contextlib.suppress(queue.Full):
                self.chunks.put(chunk, timeout=0.5)
                return True
        return False

    def _write(self) -> None:
        tags, pacer = FlvTags(), Pacer()
        try:
            while (chunk := self.chunks.get()) is not None:
                for timestamp, data in tags.feed(chunk):
                    # Once stopping, what is left goes at once (the ladder flushes it all).
                    while (
                        timestamp is not None
                        and not self.stopping.is_set()
                        and (wait := pacer.delay(timestamp, time.monotonic()))
                    ):
                        self.stopping.wait(wait)
                    self.sink.write(data)
                    self.sink.flush()
        except (OSError, ValueError):
            pass  # the ladder's ffmpeg exited
        finally:
            self.closed.set()
            with contextlib.suppress(OSError, ValueError):
                self.sink.close()
