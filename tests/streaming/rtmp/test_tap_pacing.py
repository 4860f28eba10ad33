"""The tap's pacing (streaming/tap.py): what piled up before the ladder's ffmpeg ran is fed at
most CATCH_UP times real time, never as a burst of segments; and the FLV is cut at tags."""

from __future__ import annotations

import pytest

from streaming.tap import BURST_SECONDS, CATCH_UP, FlvTags, Pacer

FRAME_MS = 40  # 25 fps


def _feed(pacer: Pacer, timestamps: list[int], start: float = 0.0) -> list[float]:
    """When each tag goes, stepping the clock by the delays the pacer asks for."""
    now, sent = start, []
    for timestamp in timestamps:
        while wait := pacer.delay(timestamp, now):
            now += wait
        sent.append(now)
    return sent


def test_a_backlog_goes_out_no_faster_than_the_catch_up_rate():
    # Three seconds of frames all there at once (the tap copied them while the ladder started).
    timestamps = list(range(0, 3000 + FRAME_MS, FRAME_MS))
    sent = _feed(Pacer(), timestamps)
    media = (timestamps[-1] - timestamps[0]) / 1000
    assert sent[-1] == pytest.approx((media - BURST_SECONDS) / CATCH_UP, abs=0.01)
    # Over any second, at most a second times the rate (and the burst) goes.
    for i, t in enumerate(sent):
        later = [j for j in range(i, len(sent)) if sent[j] <= t + 1.0]
        assert (timestamps[later[-1]] - timestamps[i]) / 1000 <= CATCH_UP + BURST_SECONDS + 0.05


def test_a_stream_arriving_in_real_time_is_not_held_back():
    pacer = Pacer()
    timestamps = list(range(0, 10_000, FRAME_MS))
    for timestamp in timestamps:
        assert pacer.delay(timestamp, timestamp / 1000) == 0


def test_timestamps_going_back_or_jumping_cost_nothing():
    pacer = Pacer()
    # Audio interleaved a little behind video, then the encoder's clock jumping an hour: the
    # 80 ms of media fit in the burst, the jump is not waited for.
    assert _feed(pacer, [0, 40, 20, 80, 3_600_000]) == [0.0] * 5
    # The next frame waits for its own 40 ms only.
    assert pacer.delay(3_600_040, 0.0) == pytest.approx((0.04 - (BURST_SECONDS - 0.08)) / CATCH_UP)


def _tag(kind: int, timestamp: int, payload: bytes) -> bytes:
    header = bytes([kind]) + len(payload).to_bytes(3, "big")
    header += (timestamp & 0xFFFFFF).to_bytes(3, "big") + bytes([timestamp >> 24]) + b"\0\0\0"
    return header + payload + (11 + len(payload)).to_bytes(4, "big")


def test_flv_is_cut_into_its_header_and_tags_with_their_timestamps_whatever_the_reads():
    header = b"FLV\x01\x05\x00\x00\x00\x09" + b"\0\0\0\0"
    tags = [_tag(18, 0, b"meta"), _tag(9, 40, b"v" * 300), _tag(8, 16_777_256, b"a" * 7)]
    stream = header + b"".join(tags)
    splitter = FlvTags()
    pieces = [piece for i in range(0, len(stream), 5) for piece in splitter.feed(stream[i : i + 5])]
    assert pieces == [(None, header), (0, tags[0]), (40, tags[1]), (16_777_256, tags[2])]


def test_what_is_not_flv_passes_through_as_it_comes():
    splitter = FlvTags()
    assert list(splitter.feed(b"not an flv stream")) == [(None, b"not an flv stream")]
    assert list(splitter.feed(b"more")) == [(None, b"more")]
