"""A synthetic test stream: ffmpeg's test pattern and a tone, pushed to our ingest with
`-method PUT` exactly as a real HLS encoder would. Used by `make run` (`manage.py run_dev`),
the staff's example command in the admin, the tests and the bench; streaming.ffmpeg finds
and starts ffmpeg.
"""

from __future__ import annotations

from streaming.ffmpeg import base_command


def push_command(
    *,
    ingest_url: str,
    key: str,
    target_duration: int,
    renditions: int = 1,
    seconds: float | None = None,
    ffmpeg: str | None = None,
    realtime: bool = True,
    audio: str | None = None,
    segment_seconds: float | None = None,
) -> list[str]:
    """The ffmpeg command line pushing a test stream to `ingest_url`
    (`http://host/streaming/ingest/<public_id>`), with one or two renditions (640x360 and
    320x180), segments of `target_duration` seconds (a keyframe every segment), for
    `seconds` or until stopped. The key travels only in the Authorization header. `ffmpeg`
    is the executable written first (default: streaming.ffmpeg.ffmpeg_path(), which raises
    FfmpegMissing). `audio`: a sound file looped as the audio instead of the tone (speech,
    for the captions' tests and bench). `segment_seconds`: shorter segments (a low-latency
    stream's parts), a keyframe each."""
    fps = 25 if segment_seconds is None else 30  # 0.5 s: 15 frames
    seconds_each = segment_seconds or target_duration
    gop = max(1, round(fps * seconds_each))
    cmd = base_command(executable=ffmpeg)
    if realtime:
        cmd.append("-re")
    cmd += ["-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={fps}"]
    if audio is None:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    else:
        cmd += ["-stream_loop", "-1", "-i", audio]
    if seconds is not None:
        cmd += ["-t", str(seconds)]
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
              "-pix_fmt", "yuv420p", "-g", str(gop), "-keyint_min", str(gop),
              "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k", "-ac", "2"]  # fmt: skip
    hls = ["-f", "hls", "-hls_time", str(seconds_each), "-hls_list_size", "4",
           "-hls_flags", "delete_segments", "-method", "PUT", "-http_persistent", "1",
           "-headers", f"Authorization: Bearer {key}\r\n"]  # fmt: skip
    if renditions == 1:
        cmd += ["-map", "0:v", "-map", "1:a", *encode, "-b:v", "800k", *hls,
                "-hls_segment_filename", f"{ingest_url}/seg_%05d.ts",
                f"{ingest_url}/stream.m3u8"]  # fmt: skip
    else:
        cmd += ["-filter_complex", "[0:v]split=2[a][b];[b]scale=320:180[bs]",
                "-map", "[a]", "-map", "[bs]", "-map", "1:a", "-map", "1:a", *encode,
                "-b:v:0", "800k", "-b:v:1", "300k", *hls,
                "-var_stream_map", "v:0,a:0 v:1,a:1", "-master_pl_name", "master.m3u8",
                "-hls_segment_filename", f"{ingest_url}/seg_%v_%05d.ts",
                f"{ingest_url}/stream_%v.m3u8"]  # fmt: skip
    return cmd
