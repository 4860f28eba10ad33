"""Our own HLS playlists (RFC 8216), and a strict reader of the encoder's.

Pure functions: no database, no storage. The writer renders what `services` decided to
publish; the reader turns an encoder's (or an upstream origin's) playlist into plain data and
refuses anything it does not understand rather than passing it through to viewers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Names an encoder may PUT: one path component, a short safe stem, a known extension.
OBJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(ts|m4s|mp4|m3u8)$")
SEGMENT_EXTENSIONS = ("ts", "m4s", "mp4")
CONTENT_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",
    "ts": "video/mp2t",
    "m4s": "video/mp4",
    "mp4": "video/mp4",
    "vtt": "text/vtt; charset=utf-8",
}
MAX_PLAYLIST_BYTES = 256 * 1024

# EXT-X-STREAM-INF attributes copied from an encoder's master, with the values we accept.
_VARIANT_ATTRIBUTES = {
    "BANDWIDTH": re.compile(r"^\d{1,10}$"),
    "AVERAGE-BANDWIDTH": re.compile(r"^\d{1,10}$"),
    "RESOLUTION": re.compile(r"^\d{1,5}x\d{1,5}$"),
    "FRAME-RATE": re.compile(r"^\d{1,3}(\.\d{1,3})?$"),
    "CODECS": re.compile(r'^"[A-Za-z0-9.,\- ]{1,200}"$'),
}
VARIANT_ORDER = tuple(_VARIANT_ATTRIBUTES)
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^",]*)')


class PlaylistError(ValueError):
    """The encoder's playlist is not one we can read."""


def is_valid_name(name: str) -> bool:
    return bool(OBJECT_NAME.match(name))


def extension(name: str) -> str:
    return name.rsplit(".", 1)[1]


@dataclass(frozen=True)
class EncoderSegment:
    sequence: int  # the encoder's media sequence number of this segment
    uri: str
    duration: float
    discontinuity: bool
    init_uri: str | None
    # When its first frame was captured, as the encoder says (EXT-X-PROGRAM-DATE-TIME, on it
    # or carried on from an earlier segment by the durations), or None.
    program_date_time: datetime | None = None


@dataclass(frozen=True)
class EncoderPlaylist:
    media_sequence: int
    segments: list[EncoderSegment]
    ended: bool


@dataclass(frozen=True)
class EncoderVariant:
    uri: str
    attributes: dict[str, str] = field(default_factory=dict)


def parse_attributes(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _ATTRIBUTE.finditer(text)}


def _lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("not an M3U8 playlist (no #EXTM3U first line)")
    return lines


def is_master(text: str) -> bool:
    return "#EXT-X-STREAM-INF:" in text


def parse_master(text: str) -> list[EncoderVariant]:
    """The variants of a master playlist: their URIs (as written) and the whitelisted
    attributes. Raises PlaylistError on a malformed one."""
    lines = _lines(text)
    variants: list[EncoderVariant] = []
    for i, line in enumerate(lines):
        if not line.startswith("#EXT-X-STREAM-INF:"):
            continue
        if i + 1 >= len(lines) or lines[i + 1].startswith("#"):
            raise PlaylistError("EXT-X-STREAM-INF without a URI line")
        attributes = {
            name: value
            for name, value in parse_attributes(line.split(":", 1)[1]).items()
            if name in _VARIANT_ATTRIBUTES and _VARIANT_ATTRIBUTES[name].match(value)
        }
        if "BANDWIDTH" not in attributes:
            raise PlaylistError("EXT-X-STREAM-INF without BANDWIDTH")
        variants.append(EncoderVariant(uri=lines[i + 1], attributes=attributes))
    if not variants:
        raise PlaylistError("a master playlist without variants")
    return variants


def parse_date_time(value: str) -> datetime:
    """An EXT-X-PROGRAM-DATE-TIME value (ISO 8601 with a time zone: `…Z`, `…+00:00`, and
    ffmpeg's `…+0000`). Raises PlaylistError."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PlaylistError("bad EXT-X-PROGRAM-DATE-TIME") from None
    if parsed.tzinfo is None:
        raise PlaylistError("EXT-X-PROGRAM-DATE-TIME without a time zone")
    return parsed


def parse_media(text: str) -> EncoderPlaylist:
    """An encoder's media playlist. Raises PlaylistError on anything malformed."""
    lines = _lines(text)
    media_sequence = 0
    segments: list[EncoderSegment] = []
    duration: float | None = None
    discontinuity = False
    init_uri: str | None = None
    ended = False
    pdt: datetime | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            try:
                media_sequence = int(line.split(":", 1)[1])
            except ValueError:
                raise PlaylistError("bad EXT-X-MEDIA-SEQUENCE") from None
        elif line.startswith("#EXTINF:"):
            try:
                duration = float(line.split(":", 1)[1].split(",", 1)[0])
            except ValueError:
                raise PlaylistError("bad EXTINF") from None
            if not 0 < duration < 3600:
                raise PlaylistError("EXTINF out of range")
        elif line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
            pdt = None  # a new timeline: only a date-time on it counts (RFC 8216 §4.3.2.6)
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = parse_date_time(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MAP:"):
            init_uri = parse_attributes(line.split(":", 1)[1]).get("URI", "").strip('"') or None
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif not line.startswith("#"):
            if duration is None:
                raise PlaylistError("a segment URI without EXTINF")
            segments.append(
                EncoderSegment(
                    sequence=media_sequence + len(segments),
                    uri=line,
                    duration=duration,
                    discontinuity=discontinuity,
                    init_uri=init_uri,
                    program_date_time=pdt,
                )
            )
            pdt = pdt + timedelta(seconds=duration) if pdt is not None else None
            duration, discontinuity = None, False
    return EncoderPlaylist(media_sequence=media_sequence, segments=segments, ended=ended)


@dataclass(frozen=True)
class PublishedSegment:
    seq: int
    duration: float
    program_date_time: datetime
    discontinuity: bool
    init_name: str
    extension: str
    # Low latency: the durations of the parts it was built from (`<seq>_<i>.<ext>`), or ().
    parts: tuple[float, ...] = ()


def _pdt(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_media(
    *,
    target_duration: int,
    media_sequence: int,
    discontinuity_sequence: int,
    segments: Sequence[PublishedSegment],
    ended: bool,
    vod: bool = False,
    low_latency: LowLatency | None = None,
) -> str:
    """A media playlist. `segments` are in order, all with a rounded duration ≤ the target.
    VOD playlists (the replay) start at sequence 0 and always end. With `low_latency`, the
    LL-HLS tags too (ll_* below): regular clients read the same segments, parts are extra."""
    uses_map = any(s.init_name for s in segments)
    lines = [
        "#EXTM3U",
        # 6 for EXT-X-MAP in a media playlist (RFC 8216 §7); 3 for decimal EXTINF.
        f"#EXT-X-VERSION:{6 if uses_map else 3}",
        f"#EXT-X-TARGETDURATION:{target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}",
    ]
    if low_latency is not None:
        lines += ll_header(low_latency, segments)
    if vod:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    current_init = ""
    for segment in segments:
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.init_name and segment.init_name != current_init:
            lines.append(f'#EXT-X-MAP:URI="{segment.init_name}"')
            current_init = segment.init_name
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(segment.program_date_time)}")
        if low_latency is not None:
            lines += ll_parts(low_latency, segments, segment, target_duration)
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        lines.append(f"{segment.seq}.{segment.extension}")
    if low_latency is not None and not (ended or vod):
        lines += ll_tail(low_latency, current_init)
    if ended or vod:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Subtitles:
    """A WebVTT subtitle rendition for the master (EXT-X-MEDIA TYPE=SUBTITLES)."""

    uri: str
    group_id: str
    name: str
    language: str


def render_master(
    variants: Iterable[tuple[str, dict[str, str]]], *, subtitles: Subtitles | None = None
) -> str:
    """A master playlist from (URI, EXT-X-STREAM-INF attributes) pairs; with `subtitles`,
    its EXT-X-MEDIA and every variant naming its group (SUBTITLES=)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    if subtitles is not None:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{subtitles.group_id}",'
            f'NAME="{subtitles.name}",LANGUAGE="{subtitles.language}",DEFAULT=NO,'
            f'AUTOSELECT=YES,FORCED=NO,URI="{subtitles.uri}"'
        )
    for uri, attributes in variants:
        if subtitles is not None:
            attributes = {**attributes, "SUBTITLES": f'"{subtitles.group_id}"'}
        attrs = ",".join(f"{k}={v}" for k, v in attributes.items())
        lines.append(f"#EXT-X-STREAM-INF:{attrs}")
        lines.append(uri)
    return "\n".join(lines) + "\n"


# --- Low latency (LL-HLS, RFC 8216bis §4.4.4.9, §4.4.5.2-3, §6.2.5.2) -----------------------
# Each part is one encoder segment of about the part target (it starts on a keyframe:
# INDEPENDENT=YES); publishing.append_part groups them into the segments regular clients read.


@dataclass(frozen=True)
class LowLatency:
    part_target: float
    # The segment being built: its number, the durations of its parts so far, what comes
    # before it (a discontinuity, its date-time), its extension.
    open_seq: int
    open_parts: tuple[float, ...]
    open_pdt: datetime | None
    open_discontinuity: bool
    open_init: str
    extension: str


def part_uri(seq: int, index: int, ext: str) -> str:
    return f"{seq}_{index}.{ext}"


def _advertised_part_target(ll: LowLatency, segments: Sequence[PublishedSegment]) -> float:
    # Every part is at most PART-TARGET long (§4.4.3.7): an encoder a little over still plays.
    longest = max([*ll.open_parts, *(p for s in segments for p in s.parts)], default=0.0)
    return max(ll.part_target, longest)


def ll_header(ll: LowLatency, segments: Sequence[PublishedSegment]) -> list[str]:
    part_target = _advertised_part_target(ll, segments)
    return [
        # Blocking reloads answered (streaming/blocking.py); players stay 3 parts back.
        f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={3 * part_target:.3f}",
        f"#EXT-X-PART-INF:PART-TARGET={part_target:.3f}",
    ]


def ll_parts(
    ll: LowLatency,
    segments: Sequence[PublishedSegment],
    segment: PublishedSegment,
    target_duration: int,
) -> list[str]:
    """The parts of a complete segment, for those within 3 target durations of the end."""
    if not segment.parts:
        return []
    after = sum(s.duration for s in segments if s.seq > segment.seq) + sum(ll.open_parts)
    if after > 3 * target_duration:
        return []
    return [
        f'#EXT-X-PART:DURATION={d:.5f},URI="{part_uri(segment.seq, i, segment.extension)}"'
        ",INDEPENDENT=YES"
        for i, d in enumerate(segment.parts)
    ]


def ll_tail(ll: LowLatency, current_init: str) -> list[str]:
    """The parts of the segment being built, then the hint of the next part."""
    lines: list[str] = []
    if ll.open_parts:
        if ll.open_discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if ll.open_init and ll.open_init != current_init:
            lines.append(f'#EXT-X-MAP:URI="{ll.open_init}"')
        if ll.open_pdt is not None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(ll.open_pdt)}")
        lines += [
            f'#EXT-X-PART:DURATION={d:.5f},URI="{part_uri(ll.open_seq, i, ll.extension)}"'
            ",INDEPENDENT=YES"
            for i, d in enumerate(ll.open_parts)
        ]
    hint = part_uri(ll.open_seq, len(ll.open_parts), ll.extension)
    lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{hint}"')
    return lines
