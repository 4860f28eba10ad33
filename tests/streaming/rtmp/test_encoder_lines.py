"""The key page's ffmpeg line for a video file, over RTMP (streaming.encoderhelp): the file
looped to nginx-rtmp, joined mid-stream by the transcoder, goes live with every segment within
the target duration, where the file starts over too."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from streaming import encoderhelp, ffmpeg
from streaming.models import Segment, Transcoder
from tests.support import wait_for
from tests.support.streaming import TARGET_DURATION

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_file_line_goes_live_through_nginx_rtmp_and_the_transcoder(
    stack, stream_and_key, settings, show_file
):
    settings.RTMP_PUBLIC_URL = f"rtmp://127.0.0.1:{stack.rtmp_port}/live"
    stream, key = stream_and_key
    line = encoderhelp.file_commands(stream, key, path=show_file, ffmpeg=ffmpeg.ffmpeg_path())
    argv = line.rtmp.argv
    argv[1:1] = ["-nostdin", "-loglevel", "error"]
    proc = ffmpeg.start(argv, stderr=subprocess.PIPE, cwd=stack.tmp)
    segments = Segment.objects.filter(rendition__stream=stream)
    try:
        # The 2-second file starts over twice within these six segments.
        wait_for(lambda: segments.count() >= 6, 45, 0.2, what="six segments published")
        running = proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        _, errors = proc.communicate(timeout=10)
        # Nothing of the stack's may hold a row when the test's flush truncates the tables.
        wait_for(lambda: not Transcoder.objects.exclude(pid=None).exists(), 20, 0.1,
                 what="the transcoder stopped")  # fmt: skip
    stream.refresh_from_db()
    assert running, errors.decode()
    assert (stream.state, stream.last_error) == ("live", "")
    assert all(round(d) <= TARGET_DURATION for d in segments.values_list("duration", flat=True))
