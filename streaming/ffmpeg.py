"""The one seam to ffmpeg and ffprobe: where the executables are, the argv prefix every
ffmpeg command starts with, starting ffmpeg, and reading a stream with ffprobe.

Everything that runs ffmpeg goes through here: the transcoder (streaming/transcoder.py), the
synthetic test stream of `make run` (streaming/teststream.py, run by `manage.py run_dev`),
the tests and the benches. Builders of command lines (streaming/ladder.py,
streaming/teststream.py) only write argv lists.

ffmpeg comes from the system (Debian's package) or, when absent, from the imageio-ffmpeg
wheel (a dependency). The wheel has no ffprobe: probing needs the system's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import IO, Any

import imageio_ffmpeg

QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error"]


class FfmpegMissing(RuntimeError):
    """No ffmpeg (or ffprobe) executable on this machine."""


class ProbeFailed(Exception):
    """ffprobe could not read the input: it exited with an error, timed out, could not be
    started, or wrote something that is not JSON. The message is ffprobe's stderr."""


def ffmpeg_path() -> str:
    """The ffmpeg executable: Debian's on the PATH, else the imageio-ffmpeg wheel's.
    Raises FfmpegMissing if there is none at all."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        raise FfmpegMissing(
            "no ffmpeg: install Debian's ffmpeg or `pip install imageio-ffmpeg`"
        ) from None


def ffprobe_path() -> str:
    """The ffprobe beside ffmpeg, else the one on the PATH. Raises FfmpegMissing."""
    beside = os.path.join(os.path.dirname(ffmpeg_path()), "ffprobe")
    found = beside if os.access(beside, os.X_OK) else shutil.which("ffprobe")
    if not found:
        raise FfmpegMissing("no ffprobe: install Debian's ffmpeg")
    return found


def base_command(*args: str, executable: str | None = None) -> list[str]:
    """An ffmpeg argv: the executable (`executable`, else ffmpeg_path()), quiet (no banner,
    no stdin, errors only), then `args`."""
    return [executable or ffmpeg_path(), *QUIET, *args]


def start(
    argv: list[str],
    *,
    stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
    cwd: str | Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start an ffmpeg command (as built by base_command, ladder.command or
    teststream.push_command) in its own session: a terminal's Ctrl-C does not reach it, and
    os.killpg(proc.pid, …) stops it with its children. The caller waits for it or stops it."""
    return subprocess.Popen(  # noqa: S603 (an argv we built, no shell)
        argv, stdout=stdout, stderr=stderr, cwd=cwd, start_new_session=True
    )


def start_with_progress(argv: list[str], *, stdin: int | None = None) -> subprocess.Popen[str]:
    """Start an ffmpeg command that reports progress on stdout (`-progress pipe:1`): stdout
    and stderr are line-buffered text pipes the caller must read (or ffmpeg blocks on a full
    pipe). `stdin`: a file descriptor the command reads as `pipe:0` (the read end of the
    caller's os.pipe(), which the caller closes once started). In its own session, as
    start()."""
    return subprocess.Popen(  # noqa: S603 (an argv we built, no shell)
        argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        bufsize=1, start_new_session=True,
    )  # fmt: skip


def probe(
    url: str, *options: str, timeout: float = 60.0, data: bytes | None = None
) -> dict[str, Any]:
    """ffprobe's JSON about `url` (`-of json` with `options`, e.g. `-show_entries …`), within
    `timeout` seconds; `data`: the bytes of `pipe:0`. Raises ProbeFailed, or FfmpegMissing
    without ffprobe."""
    argv = [ffprobe_path(), "-v", "error", "-of", "json", *options, url]
    try:
        result = subprocess.run(  # noqa: S603 (an argv we built, no shell)
            argv, capture_output=True, input=data, timeout=timeout
        )
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise ProbeFailed(f"ffprobe did not finish: {exc}") from None
    stderr = result.stderr.decode(errors="replace").strip()
    if result.returncode != 0:
        raise ProbeFailed(stderr or f"ffprobe exited with {result.returncode}")
    try:
        parsed = json.loads(result.stdout)
    except ValueError:
        raise ProbeFailed("ffprobe wrote no JSON") from None
    if not isinstance(parsed, dict):
        raise ProbeFailed("ffprobe wrote no JSON object")
    return parsed
