"""When the transcoder cannot keep real time: speed below 1.0 for 10 s."""

from __future__ import annotations

from streaming.transcoder import SpeedWatch


def _run(watch: SpeedWatch, speed: float, seconds: float, start: float = 0.0) -> float:
    """Feed progress every 0.5 s at `speed` media seconds per second; return the end time."""
    t, media = start, (watch.samples[-1][1] if watch.samples else 0.0)
    for _ in range(int(seconds / 0.5)):
        t += 0.5
        media += 0.5 * speed
        watch.feed(media, t)
    return t


def test_a_transcoder_at_real_time_is_not_behind():
    watch = SpeedWatch()
    end = _run(watch, 1.0, 60)
    assert watch.behind(end) is False
    assert round(watch.speed, 2) == 1.0


def test_ten_seconds_below_real_time_is_behind():
    watch = SpeedWatch()
    end = _run(watch, 1.0, 5)
    end = _run(watch, 0.8, 11, start=end)
    assert watch.behind(end) is True
    assert round(watch.speed, 2) == 0.8


def test_a_short_dip_below_real_time_is_not_behind():
    watch = SpeedWatch()
    end = _run(watch, 1.0, 5)
    end = _run(watch, 0.8, 6, start=end)
    assert watch.behind(end) is False


def test_recovering_clears_behind():
    watch = SpeedWatch()
    end = _run(watch, 0.7, 15)
    assert watch.behind(end) is True
    end = _run(watch, 1.0, 4, start=end)
    assert watch.behind(end) is False


def test_a_start_up_delay_alone_is_not_behind():
    # ffmpeg's own cumulative speed stays below 1.0 forever after a start-up delay.
    watch = SpeedWatch()
    watch.feed(0.0, 0.0)
    end = _run(watch, 1.0, 30, start=2.0)
    assert watch.behind(end) is False
