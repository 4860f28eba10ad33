"""The green room's stream health: what the encoder is sending, from ffprobe on the newest
published segments of the stream's top rendition, for staff to check before "Go live".

- `measure(stream_id)`: one ffprobe over the newest segments (demuxing only: packet sizes,
  timestamps and keyframe flags, nothing decoded), the figures and the staff's warnings.
- `record_health(stream_id)`: measure a receiving stream and keep the figures on its row
  (`Stream.health`, `Stream.health_at`). The stream worker calls it (`HealthRounds`), never
  the ingest path, whose latency is benchmarked.
- `current_health(stream)` and `rows(health)`: what the dashboard and the admin show.

A/V drift is the largest difference, over the probed segments, between a segment's first
audio and first video timestamps (positive: audio later). Muxers interleave by timestamp, so
an offset the encoder gives its audio shows at the start of an encoder session (the first
segment's audio starts late); a muxer that interleaves badly shows it throughout.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from streaming import ffmpeg
from streaming.models import Rendition, Segment, Stream, StreamState
from streaming.publishing import live_key
from streaming.storage import get_storage

log = logging.getLogger(__name__)

# How much of the newest media one measurement reads (enough to see two keyframes 6 s
# apart, often), in at most this many segments.
WINDOW_SECONDS = 10.0
MAX_SEGMENTS = 10
# A receiving stream is measured again once its figures are this old ...
MEASURE_EVERY = timedelta(seconds=5)
# ... and figures older than this are not shown (the stream stopped, or probing fails).
STALE_AFTER = timedelta(seconds=30)
# A probe reads a few megabytes from local disk in well under a second; the worker's sweep
# waits for it, so a stuck one must not hold it past a stall's 2 target durations.
PROBE_TIMEOUT_S = 2.0
# The stored JSON's version: figures stored by another version are not read.
JSON_VERSION = 1

# Warning thresholds.
HIGH_BITRATE_KBPS = 6000  # one rendition above this stalls on phones' connections
LOW_FPS = 20.0
DRIFT_MS = 100  # lip sync starts to show (ITU-R BT.1359: 45 ms early, 125 ms late)
KEYFRAME_SLACK_S = 0.05

_ENTRIES = (
    "packet=stream_index,pts_time,dts_time,duration_time,size,flags,pos"
    ":stream=index,codec_type,codec_name,width,height,sample_rate,channels"
)


@dataclass(frozen=True)
class StreamHealth:
    """What one measurement found in `segments` segments (`duration_s` seconds) of
    `rendition`, one of `renditions` the encoder sends. Bitrates in kbit/s.
    `keyframe_interval_s`: the longest stretch between keyframes, only a lower bound when
    `keyframe_interval_at_least` (fewer than two keyframes were seen); the stream's
    `target_duration_s` is what it should be at most. `av_drift_ms`: audio minus video, None
    without both."""

    measured_at: datetime
    rendition: str
    renditions: int
    target_duration_s: int
    segments: int
    duration_s: float
    total_kbps: int
    video_kbps: int | None
    video_codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    keyframe_interval_s: float | None
    keyframe_interval_at_least: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    audio_channels: int | None
    av_drift_ms: int | None
    warnings: tuple[str, ...] = ()

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["measured_at"] = self.measured_at.isoformat()
        data["warnings"] = list(self.warnings)
        data["v"] = JSON_VERSION
        return data

    @classmethod
    def from_json(cls, data: Any) -> StreamHealth:
        """The figures `to_json` gave. Raises ValueError if `data` is not such figures (none,
        or another version's)."""
        if not isinstance(data, dict) or data.get("v") != JSON_VERSION:
            raise ValueError("not stream health of this version")
        values = {k: v for k, v in data.items() if k != "v"}
        try:
            values["measured_at"] = datetime.fromisoformat(values["measured_at"])
            values["warnings"] = tuple(str(w) for w in values["warnings"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad stream health: {exc}") from None


@dataclass(frozen=True)
class HealthRow:
    """One line of the health table; `warning` when one of the warnings is about it."""

    label: str
    value: str
    warning: bool


# --- reading what is stored --------------------------------------------------------------


def current_health(stream: Stream, *, now: datetime | None = None) -> StreamHealth | None:
    """The stream's last figures, or None if there are none or they are older than
    STALE_AFTER (nothing measured them lately: the stream stopped receiving, or its probes
    fail). Reads only the row it is given: no query."""
    now = now or timezone.now()
    if not stream.health or stream.health_at is None or now - stream.health_at > STALE_AFTER:
        return None
    try:
        return StreamHealth.from_json(stream.health)
    except ValueError:
        return None


# --- the warnings, and the table ----------------------------------------------------------


# A menu path's separator, and width by height, as people write them.
_IN = "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"
_BY = "\N{MULTIPLICATION SIGN}"


def _mbits(kbps: int) -> str:
    return f"{kbps / 1000:.1f}".removesuffix(".0")


def _rate(kbps: int) -> str:
    return f"{_mbits(kbps)} Mbit/s" if kbps >= 1000 else f"{kbps} kbit/s"


def _seconds(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0") + " s"


def _findings(health: StreamHealth) -> list[tuple[str, str]]:
    """(row label, warning) for what staff should fix, in the table's order."""
    found = []
    if not health.has_video:
        found.append(("Video", "No video: check the encoder's video source."))
    elif health.fps is not None and health.fps < LOW_FPS:
        text = f"{health.fps:g} fps: the encoder may be overloaded. Lower the resolution, or "
        found.append(("Video", text + f"set 30 fps in OBS (Settings {_IN} Video)."))
    if health.renditions == 1 and health.total_kbps > HIGH_BITRATE_KBPS:
        text = f"Bitrate {_mbits(health.total_kbps)} Mbit/s is high for viewers on phones: "
        fix = f"4.5 Mbit/s is plenty for 1080p (OBS: Output {_IN} Bitrate)."
        found.append(("Bitrate", text + fix))
    interval = health.keyframe_interval_s
    if interval is not None and interval > health.target_duration_s + KEYFRAME_SLACK_S:
        at_least = "at least " if health.keyframe_interval_at_least else ""
        text = f"Keyframe interval {at_least}{_seconds(interval)}: "
        fix = f"set it to {health.target_duration_s} s in OBS (Output {_IN} Keyframe Interval)."
        found.append(("Keyframe interval", text + fix))
    if not health.has_audio:
        found.append(("Audio", "No audio: check the encoder's microphone or audio source."))
    drift = health.av_drift_ms
    if drift is not None and abs(drift) >= DRIFT_MS:
        text = f"Audio and video {abs(drift)} ms apart: "
        found.append(("A/V drift", text + "check the encoder's audio sync offset."))
    return found


def rows(health: StreamHealth) -> list[HealthRow]:
    """The figures as the staff read them, each flagged when a warning is about it."""
    video = "none"
    if health.has_video:
        size = f"{health.width}{_BY}{health.height}" if health.width and health.height else "?"
        fps = f", {health.fps:g} fps" if health.fps is not None else ""
        video = f"{size}, {health.video_codec}{fps}"
    audio = "none"
    if health.has_audio:
        parts = [str(health.audio_codec)]
        if health.audio_sample_rate:
            parts.append(f"{health.audio_sample_rate / 1000:g} kHz")
        if health.audio_channels:
            channels = health.audio_channels
            parts.append({1: "mono", 2: "stereo"}.get(channels, f"{channels} channels"))
        audio = ", ".join(parts)
    bitrate = _rate(health.total_kbps)
    if health.video_kbps is not None:
        bitrate += f" (video {_rate(health.video_kbps)})"
    keyframes = "unknown"
    if health.keyframe_interval_s is not None:
        at_least = "at least " if health.keyframe_interval_at_least else ""
        keyframes = at_least + _seconds(health.keyframe_interval_s)
    drift = "—"
    if health.av_drift_ms is not None:
        ms = health.av_drift_ms
        drift = f"{abs(ms)} ms" + (f", audio {'behind' if ms > 0 else 'ahead of'} video"
                                   if ms else "")  # fmt: skip
    flagged = {label for label, _ in _findings(health)}
    table = [
        ("Video", video),
        ("Bitrate", bitrate),
        ("Keyframe interval", keyframes),
        ("Audio", audio),
        ("A/V drift", drift),
    ]
    return [HealthRow(label, value, label in flagged) for label, value in table]


# --- measuring ----------------------------------------------------------------------------


def _top_rendition(stream: Stream) -> tuple[Rendition, int] | None:
    """The rendition with the highest bandwidth among those the encoder sends now (a
    segment within a live window of the newest rendition's), and how many it sends."""
    renditions = [r for r in stream.renditions.all() if r.next_seq > 0]
    times = [r.next_pdt for r in renditions if r.next_pdt is not None]
    if times:
        since = max(times) - timedelta(seconds=stream.window_seconds)
        renditions = [r for r in renditions if r.next_pdt is None or r.next_pdt >= since]
    if not renditions:
        return None

    def bandwidth(rendition: Rendition) -> int:
        stated = str(rendition.variant.get("BANDWIDTH") or "")
        return int(stated) if stated.isdigit() else rendition.peak_bits_per_second

    return max(renditions, key=bandwidth), len(renditions)


def _window(stream: Stream, rendition: Rendition) -> list[Segment]:
    """The newest segments of the rendition's current encoder session and initialization
    section, oldest first, covering WINDOW_SECONDS (fewer if there are not so many)."""
    newest = list(
        Segment.objects.filter(rendition=rendition, deleted=False).order_by("-seq")[:MAX_SEGMENTS]
    )
    window: list[Segment] = []
    covered = 0.0
    for segment in newest:
        if window and (
            segment.init_name != window[0].init_name or segment.seq != window[-1].seq - 1
        ):
            break
        window.append(segment)
        covered += segment.duration
        if segment.discontinuity or covered >= WINDOW_SECONDS:
            break  # a discontinuity starts the session: older ones are another encoder's
    window.reverse()
    return window


class _Unreadable(Exception):
    """What ffprobe gave is not something we can measure; the message says why."""


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _first_of(streams: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((s for s in streams if s.get("codec_type") == kind), None)


def _keyframe_interval(
    times: list[float], keyframes: list[float], end: float
) -> tuple[float | None, bool]:
    """The longest stretch between keyframes, and whether it is only a lower bound (the
    stretches before the first keyframe and after the last one are cut by the window)."""
    if not times:
        return None, False
    marks = sorted(keyframes)
    full = [b - a for a, b in itertools.pairwise(marks)]
    cut = [(marks[0] if marks else end) - times[0], end - (marks[-1] if marks else times[0])]
    longest_full = max(full, default=0.0)
    longest_cut = max(cut)
    if full and longest_full >= longest_cut - 1e-3:
        return round(longest_full, 2), False
    return round(max(longest_full, longest_cut), 2), True


def _figures(
    data: dict[str, Any], *, boundaries: list[int], sizes: int, duration: float
) -> dict[str, Any]:
    """The figures of one probe over segments concatenated; `boundaries`: the byte offsets
    where each segment starts (after an initialization section), `sizes`: their total bytes,
    `duration`: their total EXTINF. Raises _Unreadable when a segment gave no packet."""
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    video, audio = _first_of(streams, "video"), _first_of(streams, "audio")
    by_index = {s.get("index"): s for s in (video, audio) if s is not None}
    # Per stream kind: (pts, size, duration, keyframe, segment index) of every packet.
    packets: dict[str, list[tuple[float, int, float | None, bool, int]]] = {
        "video": [],
        "audio": [],
    }
    seen = set()
    # A parser that splits one PES into frames (AAC in MPEG-TS) gives a position to the first
    # only: the others come from the same segment as the last frame with one.
    segment_of = {kind: -1 for kind in packets}
    for packet in data.get("packets") or []:
        stream = by_index.get(packet.get("stream_index"))
        pts = _number(packet.get("pts_time"))
        if pts is None:
            pts = _number(packet.get("dts_time"))
        if stream is None or pts is None:
            continue
        pos = _number(packet.get("pos"))
        if pos is not None:
            segment_of[stream["codec_type"]] = bisect.bisect_right(boundaries, int(pos)) - 1
        segment = segment_of[stream["codec_type"]]
        seen.add(segment)
        packets[stream["codec_type"]].append((
            pts, int(_number(packet.get("size")) or 0), _number(packet.get("duration_time")),
            "K" in str(packet.get("flags") or ""), segment,
        ))  # fmt: skip
    if not packets["video"] and not packets["audio"]:
        raise _Unreadable("no audio or video packets")
    missing = [i for i in range(len(boundaries)) if i not in seen]
    if -1 not in seen and missing:
        raise _Unreadable(f"no packets in segment {missing[0] + 1} of {len(boundaries)}")

    figures: dict[str, Any] = {
        "total_kbps": round(sizes * 8 / duration / 1000),
        "video_kbps": None, "video_codec": None, "width": None, "height": None, "fps": None,
        "keyframe_interval_s": None, "keyframe_interval_at_least": False,
        "audio_codec": None, "audio_sample_rate": None, "audio_channels": None,
        "av_drift_ms": None,
    }  # fmt: skip
    if video is not None and packets["video"]:
        times = sorted(p[0] for p in packets["video"])
        steps = [b - a for a, b in itertools.pairwise(times)]
        frame = packets["video"][-1][2] or (sorted(steps)[len(steps) // 2] if steps else 0.0)
        span = times[-1] - times[0] + frame
        keyframe, at_least = _keyframe_interval(
            times, [p[0] for p in packets["video"] if p[3]], times[-1] + frame
        )
        width, height = video.get("width"), video.get("height")
        figures.update(
            video_kbps=round(sum(p[1] for p in packets["video"]) * 8 / duration / 1000),
            video_codec=str(video.get("codec_name") or "unknown"),
            width=width if isinstance(width, int) and width > 0 else None,
            height=height if isinstance(height, int) and height > 0 else None,
            fps=round(len(times) / span, 2) if span > 0 else None,
            keyframe_interval_s=keyframe,
            keyframe_interval_at_least=at_least,
        )
    if audio is not None and packets["audio"]:
        rate = _number(audio.get("sample_rate"))
        channels = audio.get("channels")
        figures.update(
            audio_codec=str(audio.get("codec_name") or "unknown"),
            audio_sample_rate=int(rate) if rate else None,
            audio_channels=channels if isinstance(channels, int) and channels > 0 else None,
        )
    if packets["video"] and packets["audio"]:
        drifts = []
        for segment in sorted(seen):
            v = [p[0] for p in packets["video"] if p[4] == segment]
            a = [p[0] for p in packets["audio"] if p[4] == segment]
            if v and a:
                drifts.append(round((min(a) - min(v)) * 1000))
        figures["av_drift_ms"] = max(drifts, key=abs) if drifts else None
    return figures


def measure(stream_id: int) -> StreamHealth | None:
    """Probe the newest segments of the stream's top rendition (one ffprobe of at most
    PROBE_TIMEOUT_S, no lock or transaction held). None if the stream has no segment to
    probe, or if probing fails: then one warning is logged with the stream's id."""
    stream = Stream.objects.filter(pk=stream_id).first()
    top = _top_rendition(stream) if stream is not None else None
    if stream is None or top is None:
        return None
    rendition, count = top
    segments = _window(stream, rendition)
    storage = get_storage()
    names = [s.file_name for s in segments]
    if segments and segments[0].init_name:
        names.insert(0, segments[0].init_name)
    found = [storage.local_path(live_key(stream, rendition.name, name)) for name in names]
    paths = [p for p in found if p is not None]
    duration = sum(s.duration for s in segments)
    try:
        if not segments or len(paths) != len(names):
            raise _Unreadable("no segment files")
        if any("|" in str(p) for p in paths):
            raise _Unreadable("a media path holds '|'")  # the concat protocol's separator
        sizes = [p.stat().st_size for p in paths]
        head = sizes.pop(0) if segments[0].init_name else 0
        boundaries = [head]
        for size in sizes[:-1]:
            boundaries.append(boundaries[-1] + size)
        data = ffmpeg.probe(
            "concat:" + "|".join(map(str, paths)), "-show_entries", _ENTRIES,
            timeout=PROBE_TIMEOUT_S,
        )  # fmt: skip
        figures = _figures(
            data, boundaries=boundaries, sizes=sum(sizes), duration=max(duration, 0.001)
        )
    except (_Unreadable, ffmpeg.ProbeFailed, ffmpeg.FfmpegMissing, OSError) as exc:
        log.warning(
            "stream health probe failed",
            extra={"stream_id": stream_id, "segment": segments[-1].seq if segments else None,
                   "error": str(exc)[:200]},
        )  # fmt: skip
        return None
    health = StreamHealth(
        measured_at=timezone.now(),
        rendition=rendition.name,
        renditions=count,
        target_duration_s=stream.target_duration,
        segments=len(segments),
        duration_s=round(duration, 3),
        **figures,
    )
    return dataclasses.replace(health, warnings=tuple(text for _, text in _findings(health)))


# --- recording ----------------------------------------------------------------------------


def _due(now: datetime) -> Q:
    return Q(state=StreamState.LIVE) & (
        Q(health_at__isnull=True) | Q(health_at__lte=now - MEASURE_EVERY)
    )


def record_health(stream_id: int, *, now: datetime | None = None) -> StreamHealth | None:
    """Measure a receiving (live) stream whose figures are older than MEASURE_EVERY and
    store them on its row (one UPDATE, in its own short transaction; no lock held while
    probing). Returns what was stored, or None: not due, or the probe failed (the previous
    figures stay)."""
    now = now or timezone.now()
    if not Stream.objects.filter(_due(now), pk=stream_id).exists():
        return None
    health = measure(stream_id)
    if health is None:
        return None
    # Still receiving: a stream that ended while we probed keeps its last figures.
    Stream.objects.filter(pk=stream_id, state=StreamState.LIVE).update(
        health=health.to_json(), health_at=health.measured_at
    )
    return health


class HealthRounds:
    """The stream worker's schedule of measurements (one per process): each round measures
    the live streams whose figures are due, stalest first, within a time budget so the
    sweep and the relays keep their cadence. A stream whose probe failed is tried again
    only after MEASURE_EVERY (its figures stay as they were), not every round."""

    def __init__(self) -> None:
        self.tried: dict[int, float] = {}

    def run(self, *, budget_s: float) -> int:
        """Measure what is due until `budget_s` seconds have gone. Returns how many
        measurements were stored."""
        started = time.monotonic()
        now = timezone.now()
        wait = MEASURE_EVERY.total_seconds()
        # Never measured first, then the stalest.
        due = list(
            Stream.objects.filter(_due(now))
            .order_by(F("health_at").asc(nulls_first=True), "pk")
            .values_list("pk", flat=True)
        )
        live = set(due)
        self.tried = {pk: at for pk, at in self.tried.items() if pk in live}
        stored = 0
        for pk in due:
            if time.monotonic() - started > budget_s:
                break
            if time.monotonic() - self.tried.get(pk, -wait) < wait:
                continue
            self.tried[pk] = time.monotonic()
            stored += record_health(pk) is not None
        return stored
