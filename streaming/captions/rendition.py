"""The caption rendition: `live/<public_id>/captions/<seq>.vtt` beside each segment of the
stream's anchor rendition (the first rendition to publish once captions are on), with the
same numbers, durations, program date-times and discontinuities, listed by
`captions/index.m3u8` (live) and `captions/replay.m3u8` (the replay) over the same window.

The playlist writer (streaming/publishing.py) calls these under the stream's row lock:
`on_segment` when a segment is appended (its WebVTT is written then, once: published files
are immutable), `write_playlist` when the anchor's playlist is rewritten. A cue therefore
reaches viewers with the first segment published after it arrived (cues.add_cues places it
there). Cues are timed on a clock of the stream's own (seconds since `epoch`), the same in
every segment, and each WebVTT segment maps that clock to its media's first MPEG-TS
timestamp (X-TIMESTAMP-MAP).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from streaming import playlists
from streaming.captions import webvtt
from streaming.models import CaptionCue, CaptionMode, Rendition, Segment, Stream
from streaming.storage import get_storage

log = logging.getLogger(__name__)

FOLDER = "captions"
# The EXT-X-MEDIA group of the subtitles, and what players call the track.
GROUP_ID = "cc"


def _key(stream: Stream, name: str) -> str:
    return f"live/{stream.public_id}/{FOLDER}/{name}"


def epoch(stream: Stream) -> datetime:
    """The zero of the cues' clock: an hour before the stream's creation, on the hour, so
    every segment's local time is positive (an encoder's clock may run a little behind)."""
    created = stream.created_at.replace(minute=0, second=0, microsecond=0)
    return created - timedelta(hours=1)


def listed(stream: Stream) -> bool:
    """Whether the master lists the caption rendition: captions on and anchored."""
    return stream.captions != CaptionMode.OFF and bool(stream.caption_anchor)


def on_segment(*, stream: Stream, rendition: Rendition, segment: Segment) -> None:
    """A segment was appended to `rendition`: with captions on, the first rendition to
    publish becomes the anchor (the caller saves the stream); the anchor's segment gets its
    WebVTT segment, with the cues that overlap it."""
    if not stream.caption_anchor:
        if stream.captions == CaptionMode.OFF:
            return
        stream.caption_anchor = rendition.name
        log.info("captions anchored", extra={"stream_id": stream.pk, "rendition": rendition.name})
    if rendition.name != stream.caption_anchor:
        return
    storage = get_storage()
    path = storage.local_path(f"live/{stream.public_id}/{rendition.name}/{segment.file_name}")
    head = b""
    if path is not None and segment.extension == "ts":
        with open(path, "rb") as f:
            head = f.read(webvtt.PTS_SCAN_BYTES)
    start = segment.program_date_time
    end = start + timedelta(seconds=segment.duration)
    zero = epoch(stream)
    cues = [
        webvtt.Cue(
            start=(cue.start - zero).total_seconds(),
            end=(cue.end - zero).total_seconds(),
            text=cue.text,
        )
        for cue in CaptionCue.objects.filter(stream=stream, start__lt=end, end__gt=start)
    ]
    text = webvtt.render_segment(
        mpegts=webvtt.first_pts(head), local=(start - zero).total_seconds(), cues=cues
    )
    storage.put(_key(stream, f"{segment.seq}.vtt"), text.encode())


def write_playlist(
    *,
    stream: Stream,
    rendition: Rendition,
    segments: Sequence[playlists.PublishedSegment],
    name: str = "index.m3u8",
    media_sequence: int,
    discontinuity_sequence: int,
    ended: bool,
    vod: bool = False,
) -> None:
    """The caption playlist (`name`: the live `index.m3u8` or the replay's `replay.m3u8`)
    over the same `segments` as the anchor rendition's playlist; nothing for any other
    rendition. A segment published before captions were on (or not MPEG-TS) gets a WebVTT
    segment without cues, so the playlist never names a missing file."""
    if not stream.caption_anchor or rendition.name != stream.caption_anchor:
        return
    storage = get_storage()
    captions = []
    for segment in segments:
        key = _key(stream, f"{segment.seq}.vtt")
        if storage.size(key) is None:
            storage.put(key, webvtt.EMPTY.encode())
        captions.append(
            playlists.PublishedSegment(
                seq=segment.seq,
                duration=segment.duration,
                program_date_time=segment.program_date_time,
                discontinuity=segment.discontinuity,
                init_name="",
                extension="vtt",
            )
        )
    text = playlists.render_media(
        target_duration=stream.target_duration, media_sequence=media_sequence,
        discontinuity_sequence=discontinuity_sequence, segments=captions, ended=ended, vod=vod,
    )  # fmt: skip
    storage.put(_key(stream, name), text.encode())
