"""Automatic captions: speech recognition of the program's audio, a thread of the stream
worker (`manage.py stream_worker`, which has the media storage on its disk).

Every POLL_SECONDS the `Captioner` looks for streams with automatic captions that are
receiving video and anchored (streaming/captions/rendition.py). For each, it takes the
anchor rendition's segments published since the last round, in order (the first round
starts at the newest: what was said before is not captioned late), decodes each one's audio
with ffmpeg to 16 kHz mono PCM, and feeds it to the stream's recognizer (recognizers.py).
Each finished utterance becomes a cue (cues.add_cues, source "auto"), placed at the start
of the next segment to be published, with `spoken_end`: the end of the speech on the
program's clock (the segments' program date-times), so the delay can be told. A
discontinuity (an encoder that came back) or a gap in the numbers flushes the recognizer.

The recognizer runs in this thread, not in the worker's round: a second of audio takes a
fraction of a second (bench/captions.py), and the round keeps its cadence.
"""

from __future__ import annotations

import logging
import subprocess
import textwrap
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections

from streaming import ffmpeg
from streaming.captions import cues, recognizers
from streaming.models import CaptionMode, CaptionSource, Segment, Stream, StreamState
from streaming.storage import get_storage

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
LINE_CHARS = 42  # a caption line as broadcasters set it


def decode_command(path: str) -> list[str]:
    """ffmpeg writing a segment's first audio stream as 16 kHz mono s16le to stdout."""
    return ffmpeg.base_command(
        "-i", path, "-map", "0:a:0?", "-vn", "-ac", "1",
        "-ar", str(recognizers.SAMPLE_RATE), "-f", "s16le", "pipe:1",
    )  # fmt: skip


def decode(path: str) -> bytes:
    """The segment's audio as 16 kHz mono PCM (empty without audio)."""
    result = subprocess.run(  # noqa: S603 (an argv we built)
        decode_command(path), capture_output=True, timeout=30, check=False
    )
    return result.stdout


@dataclass
class _Timeline:
    """Where the fed audio sits on the program's clock: (seconds fed when a segment began,
    its program date-time), so an utterance's end maps back to when it was said."""

    marks: list[tuple[float, datetime]] = field(default_factory=list)

    def add(self, fed: float, pdt: datetime) -> None:
        self.marks.append((fed, pdt))
        del self.marks[:-50]

    def at(self, seconds: float) -> datetime | None:
        for fed, pdt in reversed(self.marks):
            if fed <= seconds:
                return pdt + timedelta(seconds=seconds - fed)
        return None


@dataclass
class _StreamState:
    recognizer: recognizers.Recognizer
    next_seq: int
    fed: float = 0.0
    timeline: _Timeline = field(default_factory=_Timeline)


class Captioner(threading.Thread):
    """Recognises the speech of every stream with automatic captions until `stopping`."""

    def __init__(self, *, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__(name="captioner", daemon=True)
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.streams: dict[int, _StreamState] = {}

    def run(self) -> None:
        try:
            recognizers.recognizer_from_settings()  # a misconfigured engine: said once
        except ImproperlyConfigured:
            log.exception("captioner not started")
            return
        log.info("captioner running")
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                close_old_connections()
                try:
                    self.tick()
                except Exception:
                    # A bad round (the database restarting) must not stop the captions.
                    log.exception("captioner round failed")
                self.stopping.wait(max(0.0, self.poll_seconds - (time.monotonic() - started)))
        finally:
            close_old_connections()

    def tick(self) -> None:
        wanted = dict(
            Stream.objects.filter(captions=CaptionMode.AUTO, state=StreamState.LIVE)
            .exclude(caption_anchor="")
            .values_list("pk", "caption_anchor")
        )
        for stream_id in set(self.streams) - set(wanted):
            del self.streams[stream_id]  # stopped, or captions off: start afresh next time
        for stream_id, anchor in wanted.items():
            self._caption(stream_id, anchor)

    def _caption(self, stream_id: int, anchor: str) -> None:
        segments = Segment.objects.filter(
            rendition__stream_id=stream_id, rendition__name=anchor, deleted=False
        )
        state = self.streams.get(stream_id)
        if state is None:
            recognizer = recognizers.recognizer_from_settings()
            newest = segments.order_by("-seq").values_list("seq", flat=True).first()
            if recognizer is None or newest is None:
                return
            self.streams[stream_id] = state = _StreamState(recognizer=recognizer, next_seq=newest)
        public_id = Stream.objects.values_list("public_id", flat=True).get(pk=stream_id)
        storage = get_storage()
        for segment in segments.filter(seq__gte=state.next_seq).order_by("seq")[:10]:
            if segment.seq != state.next_seq or segment.discontinuity:
                self._say(stream_id, state, state.recognizer.flush())
            state.next_seq = segment.seq + 1
            path = storage.local_path(f"live/{public_id}/{anchor}/{segment.file_name}")
            if path is None or not path.exists():
                continue
            state.timeline.add(state.fed, segment.program_date_time)
            pcm = decode(str(path))
            state.fed += len(pcm) / recognizers.BYTES_PER_SECOND
            self._say(stream_id, state, state.recognizer.feed(pcm))

    def _say(self, stream_id: int, state: _StreamState, said: list[recognizers.Utterance]) -> None:
        for utterance in said:
            lines = textwrap.wrap(utterance.text, LINE_CHARS)[: cues.MAX_LINES]
            try:
                cues.add_cues(
                    stream_id=stream_id, lines=lines, source=CaptionSource.AUTO,
                    spoken_end=state.timeline.at(utterance.end),
                )  # fmt: skip
            except cues.CaptionRefused:
                return  # the video stopped meanwhile: nothing to caption
