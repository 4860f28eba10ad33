"""What staff type into their encoder: where it sends (the RTMP server and OBS's stream key
field, the HLS push ingest URL), OBS's settings for our playlists, and ffmpeg command lines
that stream a video file or a camera and microphone, over RTMP or as HLS push.

Pure functions writing strings and argv lists: no database, no processes (streaming.ffmpeg
runs ffmpeg). The stream key is written only where a caller passes it (the one-time key
page); with `key=None` every builder writes KEY_PLACEHOLDER instead.

The settings match what our side expects: a keyframe every target duration (the playlist
writer refuses longer segments), H.264 and AAC at 48 kHz, and a constant bit rate no higher
than the adaptive ladder's top rung, so that an RTMP source of 720p is copied as that rung
rather than encoded again (streaming/ladder.py).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from django.conf import settings

from streaming.ladder import ADAPTIVE_RUNGS
from streaming.models import Stream

KEY_PLACEHOLDER = "<stream key>"
FPS = 30
TOP_RUNG = ADAPTIVE_RUNGS[0]
RESOLUTION = f"{TOP_RUNG.height * 16 // 9}x{TOP_RUNG.height}"
VIDEO_KBPS = TOP_RUNG.video_kbps
AUDIO_KBPS = 128
AUDIO_RATE = 48000
X264_PRESET = "veryfast"


@dataclass(frozen=True)
class Setting:
    """One field of the encoder's settings: where it is, its name there, and its value."""

    where: str
    name: str
    value: str


@dataclass(frozen=True)
class Command:
    """An ffmpeg command line in groups (the executable, the input, the encoding, the
    output): `argv` to run it, `shell` to show it, one group a line."""

    title: str
    groups: tuple[tuple[str, ...], ...]

    @property
    def argv(self) -> list[str]:
        return [arg for group in self.groups for arg in group]

    @property
    def shell(self) -> str:
        return " \\\n    ".join(shlex.join(group) for group in self.groups)


@dataclass(frozen=True)
class CommandPair:
    """One source streamed both ways: RTMP (through nginx-rtmp and our transcoder) and HLS
    push (straight to our ingest)."""

    source: str
    note: str
    rtmp: Command
    hls_push: Command


def rtmp_server() -> str:
    """OBS's "Server" field (RTMP_PUBLIC_URL)."""
    return str(settings.RTMP_PUBLIC_URL).rstrip("/")


def obs_stream_key(stream: Stream, key: str | None = None) -> str:
    """OBS's "Stream Key" field: the stream's public id with the key as an argument
    (nginx-rtmp hands the arguments to our on_publish hook, streaming/rtmp.py)."""
    return f"{stream.public_id}?key={key or KEY_PLACEHOLDER}"


def rtmp_publish_url(stream: Stream, key: str | None = None) -> str:
    """The whole RTMP URL an encoder other than OBS publishes to."""
    return f"{rtmp_server()}/{obs_stream_key(stream, key)}"


def hls_ingest_url(stream: Stream) -> str:
    """The HLS push ingest of the stream, without the trailing slash (files go below it)."""
    return f"{settings.SITE_URL}/streaming/ingest/{stream.public_id}"


def obs_settings(stream: Stream, key: str | None = None) -> list[Setting]:
    """OBS's settings for this stream, in the order of its settings window (Output in
    Advanced mode): where it sends, then how it encodes."""
    return [*obs_destination(stream, key), *obs_encoding(stream)]


def obs_encoding(stream: Stream) -> list[Setting]:
    """OBS's output, audio and video settings for this stream (Output in Advanced mode)."""
    td = stream.target_duration
    return [
        Setting("Output (Streaming)", "Encoder", "x264 (or your hardware H.264 encoder)"),
        Setting("Output (Streaming)", "Rate Control", "CBR"),
        Setting("Output (Streaming)", "Bitrate", f"{VIDEO_KBPS} Kbps"),
        Setting("Output (Streaming)", "Keyframe Interval", f"{td} s (the segment length)"),
        Setting("Output (Streaming)", "CPU Usage Preset", X264_PRESET),
        Setting("Output (Streaming)", "Profile", "high"),
        Setting("Output (Audio)", "Audio Bitrate", f"{AUDIO_KBPS} Kbps (AAC)"),
        Setting("Audio", "Sample Rate", f"{AUDIO_RATE // 1000} kHz"),
        Setting("Video", "Output (Scaled) Resolution", RESOLUTION),
        Setting("Video", "Common FPS Values", str(FPS)),
    ]


def obs_destination(stream: Stream, key: str | None = None) -> list[Setting]:
    """OBS's Stream page: a custom service, our RTMP server and the stream key field."""
    return [
        Setting("Stream", "Service", "Custom…"),
        Setting("Stream", "Server", rtmp_server()),
        Setting("Stream", "Stream Key", obs_stream_key(stream, key)),
    ]


def _encoding(target_duration: int) -> tuple[str, ...]:
    # A constant 30 fps (frames duplicated or dropped, also where a looped file starts over)
    # and a keyframe every FPS * target duration frames, none at scene cuts: every segment is
    # exactly one target duration long. Keyframes a frame late or early would make a
    # segmenter cutting at the target duration skip one and send a segment twice as long.
    gop = str(FPS * target_duration)
    return (
        "-c:v", "libx264", "-preset", X264_PRESET, "-tune", "zerolatency",
        "-pix_fmt", "yuv420p", "-r", str(FPS), "-fps_mode", "cfr",
        "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        "-b:v", f"{VIDEO_KBPS}k", "-maxrate", f"{VIDEO_KBPS}k", "-bufsize", f"{2 * VIDEO_KBPS}k",
        "-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ar", str(AUDIO_RATE), "-ac", "2",
    )  # fmt: skip


def _rtmp_output(stream: Stream, key: str | None) -> tuple[str, ...]:
    return ("-f", "flv", rtmp_publish_url(stream, key))


def _hls_push_output(stream: Stream, key: str | None) -> tuple[str, ...]:
    """The PUT flags of streaming.teststream. ffmpeg ends the header line itself."""
    ingest = hls_ingest_url(stream)
    return (
        "-f", "hls", "-hls_time", str(stream.target_duration), "-hls_list_size", "4",
        "-hls_flags", "delete_segments", "-method", "PUT", "-http_persistent", "1",
        "-headers", f"Authorization: Bearer {key or KEY_PLACEHOLDER}",
        "-hls_segment_filename", f"{ingest}/seg_%05d.ts", f"{ingest}/stream.m3u8",
    )  # fmt: skip


def _pair(
    stream: Stream,
    key: str | None,
    *,
    source: str,
    note: str,
    inputs: tuple[str, ...],
    ffmpeg: str,
) -> CommandPair:
    head = (ffmpeg, "-hide_banner")
    encoding = _encoding(stream.target_duration)
    return CommandPair(
        source=source,
        note=note,
        rtmp=Command("RTMP", (head, inputs, encoding, _rtmp_output(stream, key))),
        hls_push=Command("HLS push", (head, inputs, encoding, _hls_push_output(stream, key))),
    )


def file_commands(
    stream: Stream, key: str | None = None, *, path: str = "show.mp4", ffmpeg: str = "ffmpeg"
) -> CommandPair:
    """Stream the video file `path` in real time, looped until stopped (Ctrl-C)."""
    return _pair(
        stream, key, ffmpeg=ffmpeg,
        source="A video file",
        note=f"Plays {path} in real time, over and over, until you press Ctrl-C. It is encoded "
        "again so that every segment starts with a keyframe; a file that already is H.264 and "
        f"AAC with a keyframe every {stream.target_duration} s can be sent as it is: put "
        "-c copy in place of the encoding line.",
        inputs=("-re", "-stream_loop", "-1", "-i", path),
    )  # fmt: skip


def linux_camera_commands(
    stream: Stream,
    key: str | None = None,
    *,
    video: str = "/dev/video0",
    audio: str = "default",
    ffmpeg: str = "ffmpeg",
) -> CommandPair:
    """Stream a camera (Video4Linux) and a microphone (ALSA) on Linux."""
    return _pair(
        stream, key, ffmpeg=ffmpeg,
        source="A camera and microphone on Linux",
        note=f"The camera {video} and the default microphone. Its modes: "
        f"ffmpeg -f v4l2 -list_formats all -i {video}; the microphones: arecord -L.",
        inputs=("-f", "v4l2", "-framerate", str(FPS), "-video_size", RESOLUTION, "-i", video,
                "-f", "alsa", "-i", audio),
    )  # fmt: skip


def macos_camera_commands(
    stream: Stream, key: str | None = None, *, devices: str = "0:0", ffmpeg: str = "ffmpeg"
) -> CommandPair:
    """Stream a camera and a microphone on macOS (AVFoundation, `video:audio` indexes)."""
    return _pair(
        stream, key, ffmpeg=ffmpeg,
        source="A camera and microphone on macOS",
        note=f"The first camera and microphone ({devices}: video:audio). The others: "
        'ffmpeg -f avfoundation -list_devices true -i "".',
        inputs=("-f", "avfoundation", "-framerate", str(FPS), "-video_size", RESOLUTION,
                "-i", devices),
    )  # fmt: skip


def all_commands(stream: Stream, key: str | None = None) -> list[CommandPair]:
    """Every source the key page shows, each both ways."""
    return [
        file_commands(stream, key),
        linux_camera_commands(stream, key),
        macos_camera_commands(stream, key),
    ]
