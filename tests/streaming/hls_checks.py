"""Checks on the playlists we served: the `m3u8` parser, npm's hls-parser in strict mode, and
our own RFC 8216 rules across successive versions of one live media playlist."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import m3u8

ROOT = Path(__file__).resolve().parent.parent.parent


def hls_parser_strict_failures(playlists: dict[str, str]) -> list[dict[str, str]]:
    """Playlists (name → text) that hls-parser refuses in strict mode."""
    payload = json.dumps([{"name": n, "text": t} for n, t in playlists.items()])
    result = subprocess.run(
        ["node", str(Path(__file__).with_name("hls_strict.js"))],
        input=payload, capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


def m3u8_failures(playlists: dict[str, str]) -> list[str]:
    """Playlists the m3u8 package cannot read as what they claim to be."""
    failures = []
    for name, text in playlists.items():
        try:
            parsed = m3u8.loads(text)
        except Exception as exc:
            failures.append(f"{name}: {exc}")
            continue
        if "#EXT-X-STREAM-INF" in text:
            if not parsed.is_variant or not parsed.playlists:
                failures.append(f"{name}: not read as a master playlist")
        elif parsed.target_duration is None or not parsed.segments:
            failures.append(f"{name}: no target duration or no segments")
    return failures


@dataclass(frozen=True)
class Seg:
    seq: int
    uri: str
    duration: float
    discontinuity: bool
    pdt: str | None


@dataclass(frozen=True)
class Media:
    target: int
    media_sequence: int
    discontinuity_sequence: int
    segments: list[Seg]
    ended: bool
    text: str

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)


def parse(text: str) -> Media:
    """A strict little reader of our own media playlists (independent of the writer's code)."""
    lines = [line for line in text.splitlines() if line]
    assert lines[0] == "#EXTM3U", lines[:1]
    target = int(re.search(r"^#EXT-X-TARGETDURATION:(\d+)$", text, re.M)[1])
    ms = int(re.search(r"^#EXT-X-MEDIA-SEQUENCE:(\d+)$", text, re.M)[1])
    ds_match = re.search(r"^#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)$", text, re.M)
    ds = int(ds_match[1]) if ds_match else 0
    segments, duration, disc, pdt = [], None, False, None
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line == "#EXT-X-DISCONTINUITY":
            disc = True
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = line.split(":", 1)[1]
        elif not line.startswith("#"):
            segments.append(Seg(ms + len(segments), line, duration, disc, pdt))
            duration, disc, pdt = None, False, None
    return Media(target, ms, ds, segments, "#EXT-X-ENDLIST" in lines, text)


def rfc_problems(
    versions: list[str], *, target: int, window: float, stop_seen_at: int | None = None
) -> list[str]:
    """Problems in successive versions of one live media playlist (RFC 8216 §6.2.1, §6.2.2):
    the target duration is fixed and never exceeded; edits only append, and remove from the
    start; the media sequence counts removals; the discontinuity sequence counts removed
    discontinuities; once anything was removed, the playlist holds at least the window (≥ 3
    target durations); every segment carries a program date-time; ENDLIST only in the last
    versions, and nothing changes after it. `stop_seen_at`: index of the first version
    fetched after the encoder stopped (ENDLIST must not appear before it)."""
    problems: list[str] = []
    parsed = [parse(v) for v in versions]
    uri_of: dict[int, Seg] = {}
    for i, media in enumerate(parsed):
        if media.target != target:
            problems.append(f"v{i}: target duration {media.target} != {target}")
        for seg in media.segments:
            if int(seg.duration + 0.5) > media.target:
                problems.append(f"v{i}: segment {seg.seq} lasts {seg.duration} > target")
            if seg.pdt is None:
                problems.append(f"v{i}: segment {seg.seq} without PROGRAM-DATE-TIME")
            known = uri_of.setdefault(seg.seq, seg)
            if (known.uri, known.duration, known.discontinuity) != (
                seg.uri, seg.duration, seg.discontinuity,
            ):  # fmt: skip
                problems.append(f"v{i}: segment {seg.seq} changed: {known} -> {seg}")
        if media.media_sequence > 0 and not media.ended and media.duration < window - 0.01:
            problems.append(f"v{i}: {media.duration:.2f} s in the playlist < window {window}")
        if media.ended and stop_seen_at is not None and i < stop_seen_at:
            problems.append(f"v{i}: ENDLIST before the encoder stopped")
        if i == 0:
            continue
        old = parsed[i - 1]
        if old.ended and media.text != old.text:
            problems.append(f"v{i}: changed after ENDLIST")
        if media.media_sequence < old.media_sequence:
            problems.append(f"v{i}: media sequence went back")
        old_last = old.segments[-1].seq if old.segments else -1
        new_last = media.segments[-1].seq if media.segments else -1
        if new_last < old_last:
            problems.append(f"v{i}: segments disappeared from the end")
        removed = [s for s in old.segments if s.seq < media.media_sequence]
        expected_ds = old.discontinuity_sequence + sum(1 for s in removed if s.discontinuity)
        if media.discontinuity_sequence != expected_ds:
            problems.append(
                f"v{i}: discontinuity sequence {media.discontinuity_sequence} != {expected_ds}"
            )
    return problems
