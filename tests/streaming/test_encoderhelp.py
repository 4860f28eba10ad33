"""The encoder's settings and ffmpeg lines staff get (streaming.encoderhelp): what they put in
the stream is what our playlist writer needs."""

from __future__ import annotations

import itertools
import subprocess

import pytest

from streaming import encoderhelp, ffmpeg
from tests.support.streaming import TARGET_DURATION

pytestmark = pytest.mark.django_db


def keyframe_times(path: str) -> list[float]:
    found = ffmpeg.probe(path, "-select_streams", "v", "-show_entries", "packet=pts_time,flags")
    return [float(p["pts_time"]) for p in found["packets"] if p["flags"].startswith("K")]


def test_the_file_line_puts_a_keyframe_every_target_duration_where_the_file_starts_over_too(
    stream_and_key, show_file, tmp_path
):
    stream, key = stream_and_key
    line = encoderhelp.file_commands(stream, key, path=show_file, ffmpeg=ffmpeg.ffmpeg_path())
    out = tmp_path / "out.flv"
    # The RTMP line into a file, as fast as it goes (the same frames as in real time), for
    # 7 s: the 2-second file starts over three times.
    argv = [arg for arg in line.rtmp.argv[:-1] if arg != "-re"] + ["-t", "7", str(out)]
    subprocess.run([*argv[:1], "-nostdin", "-loglevel", "error", *argv[1:]], check=True, timeout=60)
    times = keyframe_times(str(out))
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert len(times) == 7
    assert gaps == [float(TARGET_DURATION)] * 6


def test_obs_settings_name_the_target_duration_as_keyframe_interval(stream):
    settings = {s.name: s.value for s in encoderhelp.obs_settings(stream)}
    assert settings["Keyframe Interval"] == f"{TARGET_DURATION} s (the segment length)"
    assert settings["Stream Key"] == f"{stream.public_id}?key=<stream key>"
    assert settings["Rate Control"] == "CBR"
