"""Which renditions a source gets (ladder.plan) and what the ffmpeg command asks for."""

from __future__ import annotations

from streaming import ladder
from streaming.ladder import Source


def _source(height: int, kbps: int | None = 2500, codec: str = "h264") -> Source:
    width = height * 16 // 9 + (height * 16 // 9) % 2
    return Source(codec, width, height, 30.0, kbps, True)


def _names(outputs) -> list[str]:
    return [f"{o.name}{'*' if o.rung is None else ''}" for o in outputs]


def test_passthrough_copies_the_source_as_one_rendition():
    assert _names(ladder.plan(ladder="passthrough", source=_source(1080))) == ["source*"]


def test_a_1080p_source_gets_the_three_rungs_encoded():
    assert _names(ladder.plan(ladder="adaptive", source=_source(1080))) == [
        "720p", "480p", "360p"
    ]  # fmt: skip


def test_a_720p_h264_source_within_the_top_rate_is_copied_as_the_top_rung():
    assert _names(ladder.plan(ladder="adaptive", source=_source(720, 2500))) == [
        "720p*", "480p", "360p"
    ]  # fmt: skip


def test_a_source_faster_than_the_top_rung_is_encoded_not_copied():
    assert _names(ladder.plan(ladder="adaptive", source=_source(720, 6000))) == [
        "720p", "480p", "360p"
    ]  # fmt: skip


def test_a_source_of_unknown_rate_is_encoded_not_copied():
    assert _names(ladder.plan(ladder="adaptive", source=_source(720, None))) == [
        "720p", "480p", "360p"
    ]  # fmt: skip


def test_a_hevc_source_is_encoded_not_copied():
    plan = ladder.plan(ladder="adaptive", source=_source(480, 1000, codec="hevc"))
    assert _names(plan) == ["480p", "360p"]


def test_nothing_is_upscaled():
    assert _names(ladder.plan(ladder="adaptive", source=_source(240, None))) == ["360p"]
    assert ladder.plan(ladder="adaptive", source=_source(240, None))[0].height == 240


def _command(source: Source) -> list[str]:
    return ladder.command(
        ffmpeg="ffmpeg", input_url="rtmp://127.0.0.1/live/abc", ingest_url="http://h/i/abc",
        token="tc_x", outputs=ladder.plan(ladder="adaptive", source=source), source=source,
        target_duration=2,
    )  # fmt: skip


def _value(cmd: list[str], option: str) -> str:
    return cmd[cmd.index(option) + 1]


def test_encoded_rungs_have_a_fixed_gop_no_scene_cuts_and_a_rate_cap():
    cmd = _command(_source(1080))
    assert _value(cmd, "-preset:v:0") == "veryfast"
    assert _value(cmd, "-g:v:0") == "60"
    assert _value(cmd, "-keyint_min:v:0") == "60"
    assert _value(cmd, "-sc_threshold:v:0") == "0"
    assert _value(cmd, "-force_key_frames:v:0") == "expr:gte(t,n_forced*2)"
    assert _value(cmd, "-maxrate:v:2") == "856k"
    assert _value(cmd, "-bufsize:v:2") == "1200k"
    assert _value(cmd, "-var_stream_map") == (
        "v:0,a:0,name:720p v:1,a:1,name:480p v:2,a:2,name:360p"
    )


def test_lower_rungs_follow_the_keyframes_of_a_copied_top_rung():
    cmd = _command(_source(720, 2500))
    assert _value(cmd, "-c:v:0") == "copy"
    assert _value(cmd, "-force_key_frames:v:1") == "source"


def test_the_token_travels_only_in_a_header_and_ffmpeg_never_ends_the_playlist():
    cmd = _command(_source(1080))
    assert _value(cmd, "-headers") == "Authorization: Bearer tc_x\r\n"
    assert [arg for arg in cmd if "tc_x" in arg] == ["Authorization: Bearer tc_x\r\n"]
    assert "omit_endlist" in _value(cmd, "-hls_flags")
    assert "discont_start" in _value(cmd, "-hls_flags")


def test_a_low_latency_stream_gets_parts_of_half_a_second_each_starting_on_a_keyframe():
    source = _source(1080)
    cmd = ladder.command(
        ffmpeg="ffmpeg", input_url="rtmp://127.0.0.1/live/abc", ingest_url="http://h/i/abc",
        token="tc_x", outputs=ladder.plan(ladder="adaptive", source=source), source=source,
        target_duration=2, segment_seconds=0.5,
    )  # fmt: skip
    assert _value(cmd, "-hls_time") == "0.5"
    assert _value(cmd, "-g:v:0") == "15"
    assert _value(cmd, "-force_key_frames:v:0") == "expr:gte(t,n_forced*0.5)"
