"""What a published segment carries, as EXT-X-STREAM-INF attributes (RFC 8216 §4.3.4.2):
CODECS (RFC 6381 strings: `avc1.PPCCLL` from the H.264 sequence parameter set, `mp4a.40.2`
for AAC-LC) and RESOLUTION.

Players need CODECS to switch between variants: hls.js does not switch up to a variant whose
codecs it cannot check. Encoders leave it out (ffmpeg's HLS muxer does for a copied H.264
stream, whose parameter sets it cannot read, and writes no master at all for one rendition),
so the playlist writer probes the first segment of each encoder session with ffprobe
(`variant_of`); `attributes_from_probe` is the pure part.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from streaming import ffmpeg

log = logging.getLogger(__name__)

# profile_idc and the usual constraint flags by ffprobe's profile name, when the parameter
# sets are not in the probe (ITU-T H.264 A.2).
_H264_PROFILES = {
    "Constrained Baseline": (0x42, 0xC0),
    "Baseline": (0x42, 0x00),
    "Main": (0x4D, 0x40),
    "Extended": (0x58, 0x00),
    "High": (0x64, 0x00),
    "High 10": (0x6E, 0x00),
    "High 4:2:2": (0x7A, 0x00),
    "High 4:4:4 Predictive": (0xF4, 0x00),
}
# MPEG-4 audio object types by ffprobe's AAC profile name (RFC 6381 §3.3).
_AAC_OBJECT_TYPES = {"LC": 2, "HE-AAC": 5, "HE-AACv2": 29}
_OTHER_AUDIO = {"mp3": "mp4a.40.34", "ac3": "ac-3", "eac3": "ec-3"}

PROBE_ENTRIES = "stream=codec_type,codec_name,profile,level,width,height,extradata"


def _hexdump_bytes(dump: str) -> bytes:
    """The bytes of ffprobe's `-show_data` hexdump ("00000000: 0000 0167 …  ..gB")."""
    data = bytearray()
    for line in dump.splitlines():
        _, sep, rest = line.partition(": ")
        if not sep:
            continue
        try:
            data += bytes.fromhex(rest.split("  ", 1)[0].replace(" ", ""))
        except ValueError:
            return b""
    return bytes(data)


def _sps_bytes(extradata: bytes) -> bytes | None:
    """profile_idc, the constraint flags and level_idc from H.264 extradata: an avcC record
    (MP4, FLV) or Annex B parameter sets (MPEG-TS)."""
    if len(extradata) >= 4 and extradata[0] == 1:
        return extradata[1:4]
    start = extradata.find(b"\x00\x00\x01")
    while start != -1:
        nal = start + 3
        if nal + 3 < len(extradata) and extradata[nal] & 0x1F == 7:
            return extradata[nal + 1 : nal + 4]
        start = extradata.find(b"\x00\x00\x01", nal)
    return None


def video_codec(stream: dict[str, Any]) -> str | None:
    """`avc1.PPCCLL` for an H.264 stream of ffprobe's JSON, else None."""
    if stream.get("codec_name") != "h264":
        return None
    sps = _sps_bytes(_hexdump_bytes(str(stream.get("extradata") or "")))
    if sps is None:
        known = _H264_PROFILES.get(str(stream.get("profile") or ""))
        level = stream.get("level")
        if known is None or not isinstance(level, int) or not 0 < level < 256:
            return None
        sps = bytes((*known, level))
    return "avc1." + sps.hex().upper()


def audio_codec(stream: dict[str, Any]) -> str | None:
    name = str(stream.get("codec_name") or "")
    if name == "aac":
        object_type = _AAC_OBJECT_TYPES.get(str(stream.get("profile") or ""))
        return f"mp4a.40.{object_type}" if object_type else None
    return _OTHER_AUDIO.get(name)


def attributes_from_probe(data: dict[str, Any]) -> dict[str, str]:
    """CODECS and RESOLUTION from `ffprobe -show_data -show_entries PROBE_ENTRIES`; CODECS
    only when every stream's codec is known (a partial list would make players refuse the
    variant), RESOLUTION only with video."""
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    videos = [s for s in streams if s.get("codec_type") == "video"]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    attributes: dict[str, str] = {}
    codecs = [video_codec(s) for s in videos[:1]] + [audio_codec(s) for s in audios[:1]]
    if codecs and all(codecs):
        attributes["CODECS"] = '"' + ",".join(c for c in codecs if c) + '"'
    if videos:
        width, height = videos[0].get("width"), videos[0].get("height")
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            attributes["RESOLUTION"] = f"{width}x{height}"
    return attributes


def variant_of(path: Path) -> dict[str, str]:
    """CODECS and RESOLUTION of the segment at `path` (ffprobe, at most 5 s), or {} if
    ffprobe cannot read it or is missing (the master then goes without them)."""
    try:
        data = ffmpeg.probe(str(path), "-show_data", "-show_entries", PROBE_ENTRIES, timeout=5)
    except (ffmpeg.ProbeFailed, ffmpeg.FfmpegMissing) as exc:
        log.warning("segment probe failed", extra={"error": str(exc)[:200]})
        return {}
    return attributes_from_probe(data)
