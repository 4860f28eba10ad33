"""WebVTT for HLS (RFC 8216 §3.5): one small file per media segment, whose
X-TIMESTAMP-MAP ties the cues' clock to the media's MPEG-TS timestamps, so a player places
each cue on the video it plays whatever the segment. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MPEGTS_HZ = 90_000
TS_PACKET = 188
# How far into a segment to look for the first timestamps (a few hundred packets).
PTS_SCAN_BYTES = TS_PACKET * 400
EMPTY = "WEBVTT\n"


def first_pts(data: bytes) -> int | None:
    """The earliest presentation timestamp (90 kHz) among the first PES packet of each
    audio or video stream in the head of an MPEG-TS segment (`data`: its first bytes), or
    None if `data` is not MPEG-TS or carries no timestamp there."""
    firsts: dict[int, int] = {}
    for offset in range(0, min(len(data), PTS_SCAN_BYTES) - TS_PACKET + 1, TS_PACKET):
        packet = data[offset : offset + TS_PACKET]
        if packet[0] != 0x47:
            return None
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        control = (packet[3] >> 4) & 0x3
        if not packet[1] & 0x40 or control not in (1, 3) or pid in firsts:
            continue  # not the start of a payload with data, or a stream seen already
        at = 4 if control == 1 else 5 + packet[4]
        pes = packet[at : at + 14]
        if len(pes) < 14 or pes[:3] != b"\x00\x00\x01":
            continue  # a table (PAT, PMT), not a PES packet
        stream_id = pes[3]
        if not (0xC0 <= stream_id <= 0xEF or stream_id == 0xBD) or not pes[7] & 0x80:
            continue
        b = pes[9:14]
        firsts[pid] = (
            ((b[0] >> 1) & 0x7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1
        )
    return min(firsts.values()) if firsts else None


def timestamp(seconds: float) -> str:
    """A WebVTT timestamp, hours always written (more than two digits past 99 hours)."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def escape(text: str) -> str:
    """Cue text as WebVTT reads it: no markup, no line that ends the cue."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class Cue:
    """A cue on the local clock of the caption segments (seconds)."""

    start: float
    end: float
    text: str


def render_segment(*, mpegts: int | None, local: float, cues: Sequence[Cue]) -> str:
    """The WebVTT segment of a media segment whose first timestamp is `mpegts` and which
    starts at `local` on the cues' clock. Without a timestamp (not MPEG-TS), a segment
    without cues. Cues keep their own times in every segment they overlap, so a player that
    reads two segments sees the same cue twice and keeps one."""
    if mpegts is None:
        return EMPTY
    lines = ["WEBVTT", f"X-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:{timestamp(local)}", ""]
    for cue in cues:
        text = escape(cue.text)
        if not text or cue.end <= cue.start:
            continue
        lines += [f"{timestamp(cue.start)} --> {timestamp(cue.end)}", text, ""]
    return "\n".join(lines) + ("\n" if lines[-1] != "" else "")
