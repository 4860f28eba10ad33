"""The renditions ladder: which renditions a live RTMP stream gets, and the ffmpeg command that
reads it from nginx-rtmp and PUTs HLS to our ingest.

Pure functions (no database, no processes): `plan` picks the rungs for a probed source;
`command` writes the ffmpeg argv, `tap_command` the tap's (streaming/tap.py). The transcoder
(streaming/transcoder.py) runs them through streaming.ffmpeg.

- Passthrough: the encoder's audio and video copied into one rendition ("source").
- Adaptive: 720p / 480p / 360p in H.264 (x264 `veryfast`), constrained bit rates
  (`-maxrate`, `-bufsize`), keyframes every target duration at the same instants in every
  rendition (`-force_key_frames`, `-sc_threshold 0`: no scene-cut keyframes), so that
  segments of all renditions start and end together and players can switch between them.
  A source that already fits the top rung (H.264, no taller, a known bit rate within its
  maxrate) is copied as the top rung instead of being re-encoded, and the lower rungs take
  their keyframes from it (`-force_key_frames source`). Nothing is upscaled.

Segments go to the ingest as `<rendition>_<n>.ts` with playlists `<rendition>.m3u8` and the
encoder's master `master.m3u8`; our playlist writer republishes them (streaming/publishing.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streaming.ffmpeg import base_command


@dataclass(frozen=True)
class Rung:
    name: str
    height: int
    video_kbps: int
    maxrate_kbps: int
    bufsize_kbps: int
    audio_kbps: int


# Apple's HLS authoring spec ballpark for 16:9, 30 fps; maxrate 107 % of the average, a buffer
# of 1.5 s at the average rate.
ADAPTIVE_RUNGS = (
    Rung("720p", 720, 2800, 2996, 4200, 128),
    Rung("480p", 480, 1400, 1498, 2100, 96),
    Rung("360p", 360, 800, 856, 1200, 64),
)
PASSTHROUGH_NAME = "source"


@dataclass(frozen=True)
class Source:
    """What ffprobe saw of the published stream."""

    video_codec: str
    width: int
    height: int
    fps: float
    video_kbps: int | None  # None when the encoder did not say
    has_audio: bool


@dataclass(frozen=True)
class Output:
    """One rendition of the plan: copied from the source, or encoded as `rung`."""

    name: str
    height: int
    rung: Rung | None  # None: the source's video copied


def plan(*, ladder: str, source: Source, rungs: tuple[Rung, ...] = ADAPTIVE_RUNGS) -> list[Output]:
    """The renditions, tallest first. `ladder` is "passthrough" or "adaptive"."""
    if ladder != "adaptive":
        return [Output(PASSTHROUGH_NAME, source.height, None)]
    top = rungs[0]
    fits = (
        source.video_codec == "h264"
        and source.height <= top.height
        # Unknown rate: not known to fit (and a copied rendition's BANDWIDTH would be wrong).
        and source.video_kbps is not None
        and source.video_kbps <= top.maxrate_kbps
    )
    if fits:
        outputs = [Output(f"{source.height}p", source.height, None)]
        outputs += [Output(r.name, r.height, r) for r in rungs if r.height < source.height]
        return outputs
    lower = [Output(r.name, r.height, r) for r in rungs if r.height <= source.height]
    # A source smaller than every rung still gets one rendition: the smallest, not upscaled.
    return lower or [Output(rungs[-1].name, source.height - source.height % 2, rungs[-1])]


def tap_command(*, ffmpeg: str, input_url: str) -> list[str]:
    """The ffmpeg argv that plays the RTMP stream and copies it, as FLV, to stdout (the tap:
    streaming/tap.py). It writes from the first frames it gets: no frame-rate estimate
    (`-fpsprobesize 0`), which would hold them back for a second (a copy needs none)."""
    return base_command("-rw_timeout", "10000000", "-fpsprobesize", "0", "-i", input_url,
                        "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "flv", "pipe:1",
                        executable=ffmpeg)  # fmt: skip


def gop_frames(fps: float, target_duration: float) -> int:
    return max(1, round(fps * target_duration))


def command(
    *,
    ffmpeg: str,
    input_url: str,
    ingest_url: str,
    token: str,
    outputs: list[Output],
    source: Source,
    target_duration: int,
    segment_seconds: float | None = None,
) -> list[str]:
    """The ffmpeg argv. Progress goes to stdout (`-progress pipe:1`, key=value lines every
    0.5 s, among them `speed=`); errors to stderr. It reads the input as it comes, without
    estimating the frame rate first (`-fpsprobesize 0`: the H.264 headers and the FLV
    metadata give it; an estimate would hold the first second back, then burst it out). The
    token travels only in a header. The playlists never get EXT-X-ENDLIST from ffmpeg
    (`omit_endlist`): an encoder's drop is not the end of the broadcast; each new ffmpeg
    starts with a discontinuity (`discont_start`). `segment_seconds`: shorter segments than
    the target duration (a low-latency stream's parts), with a keyframe each."""
    td: float = segment_seconds or target_duration
    gop = gop_frames(source.fps, td)
    copies_top = outputs[0].rung is None
    cmd = base_command("-nostats", "-progress", "pipe:1", "-stats_period", "0.5",
                       "-rw_timeout", "10000000", "-fpsprobesize", "0", "-i", input_url,
                       executable=ffmpeg)  # fmt: skip
    encoded = [(i, o) for i, o in enumerate(outputs) if o.rung is not None]
    if encoded:
        # A cascade (source → 720p → 480p → 360p): each rung scales the one above it rather
        # than the full-size source, which costs a third of the scaling of a 1080p source.
        parts, above = [], "0:v"
        for k, (i, o) in enumerate(encoded):
            scale = f"[{above}]scale=-2:{o.height}:flags=bicubic" + (
                ",format=yuv420p" if k == 0 else ""
            )
            if k == len(encoded) - 1:
                parts.append(f"{scale}[v{i}]")
            else:
                parts.append(f"{scale},split=2[v{i}][c{i}]")
                above = f"c{i}"
        cmd += ["-filter_complex", ";".join(parts)]
    for i, o in enumerate(outputs):
        cmd += ["-map", "0:v:0" if o.rung is None else f"[v{i}]"]
    if source.has_audio:
        for _ in outputs:
            cmd += ["-map", "0:a:0"]
    for i, o in enumerate(outputs):
        if o.rung is None:
            cmd += [f"-c:v:{i}", "copy"]
            continue
        r = o.rung
        keyframes = "source" if copies_top else f"expr:gte(t,n_forced*{td})"
        cmd += [f"-c:v:{i}", "libx264", f"-preset:v:{i}", "veryfast",
                f"-profile:v:{i}", "high" if r.height >= 720 else "main",
                f"-b:v:{i}", f"{r.video_kbps}k", f"-maxrate:v:{i}", f"{r.maxrate_kbps}k",
                f"-bufsize:v:{i}", f"{r.bufsize_kbps}k",
                # Following the copied source's keyframes, x264 must add none of its own.
                f"-g:v:{i}", str(gop * 4 if copies_top else gop),
                f"-keyint_min:v:{i}", str(gop), f"-sc_threshold:v:{i}", "0",
                f"-force_key_frames:v:{i}", keyframes]  # fmt: skip
    if source.has_audio:
        for i, o in enumerate(outputs):
            kbps = o.rung.audio_kbps if o.rung else ADAPTIVE_RUNGS[0].audio_kbps
            cmd += [f"-c:a:{i}", "aac", f"-b:a:{i}", f"{kbps}k"]
        cmd += ["-ac", "2", "-ar", "48000"]
    cmd += ["-f", "hls", "-hls_time", str(td), "-hls_list_size", "6",
            "-hls_flags", "delete_segments+omit_endlist+discont_start",
            "-method", "PUT", "-http_persistent", "1",
            "-headers", f"Authorization: Bearer {token}\r\n"]  # fmt: skip
    if len(outputs) == 1:
        name = outputs[0].name
        cmd += [
            "-hls_segment_filename",
            f"{ingest_url}/{name}_%05d.ts",
            f"{ingest_url}/{name}.m3u8",
        ]
        return cmd
    stream_map = " ".join(
        f"v:{i},a:{i},name:{o.name}" if source.has_audio else f"v:{i},name:{o.name}"
        for i, o in enumerate(outputs)
    )
    cmd += ["-var_stream_map", stream_map, "-master_pl_name", "master.m3u8",
            "-hls_segment_filename", f"{ingest_url}/%v_%05d.ts",
            f"{ingest_url}/%v.m3u8"]  # fmt: skip
    return cmd


def parse_fps(text: str) -> float:
    """ffprobe's "30000/1001" or "25/1" as a number (25.0 when unknown)."""
    num, _, den = text.partition("/")
    try:
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 25.0
    return value if 1 <= value <= 240 else 25.0


def parse_probe(data: dict[str, Any]) -> Source | None:
    """A Source from `ffprobe -show_streams -of json` output, or None without video."""
    streams = data.get("streams") or []
    video = next((s for s in streams if isinstance(s, dict) and s.get("codec_type") == "video"),
                 None)  # fmt: skip
    if video is None:
        return None
    has_audio = any(isinstance(s, dict) and s.get("codec_type") == "audio" for s in streams)
    bit_rate = str(video.get("bit_rate") or "")
    return Source(
        video_codec=str(video.get("codec_name", "")),
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        fps=parse_fps(str(video.get("avg_frame_rate") or video.get("r_frame_rate") or "")),
        video_kbps=int(bit_rate) // 1000 if bit_rate.isdigit() else None,
        has_audio=has_audio,
    )
