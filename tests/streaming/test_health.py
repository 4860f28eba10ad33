"""Stream health: the sweep's decisions at given times and relay errors, without an encoder;
then the green room's figures (streaming/health.py) from real segments ffmpeg encodes here
(test patterns with and without audio, keyframes every 2 s or 6 s, audio 400 ms late, a
bitrate too high for phones), measured in this process and by the stream worker."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from events.models import EventStatus
from events.services import end_event
from streaming import ffmpeg, health, relay, selectors, services
from streaming.models import Segment, Stream, StreamMode
from streaming.storage import get_storage
from tests.factories import EventFactory
from tests.support import processes, wait_for
from tests.support.streaming import LOOPBACK_NETWORKS, deliver, hls_env

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.serial,  # the worker measures within a deadline: run alone (Makefile)
]


def test_a_live_stream_is_not_stalled_within_two_target_durations(live_stream):
    at = live_stream.last_segment_at + timedelta(seconds=2 * live_stream.target_duration)
    assert services.mark_stalled_streams(now=at) == []
    assert selectors.effective_state(live_stream, now=at) == "live"


def test_a_live_stream_is_reconnecting_after_two_target_durations_without_a_segment(
    live_stream,
):
    at = live_stream.last_segment_at + timedelta(
        seconds=2 * live_stream.target_duration, milliseconds=1
    )
    assert selectors.effective_state(live_stream, now=at) == "reconnecting"
    assert services.mark_stalled_streams(now=at) == [live_stream.pk]
    live_stream.refresh_from_db()
    assert (live_stream.state, live_stream.event.status) == ("reconnecting", EventStatus.LIVE)


def test_a_stalled_stream_is_live_again_when_segments_arrive(live_stream):
    at = live_stream.last_segment_at + timedelta(seconds=5)
    services.mark_stalled_streams(now=at)
    deliver(live_stream, 2, 1)
    live_stream.refresh_from_db()
    assert live_stream.state == "live"


def test_the_sweep_ends_the_stream_of_an_event_staff_ended(live_stream):
    end_event(event_id=live_stream.event_id)
    assert services.sweep_streams()["ended"] == 1
    live_stream.refresh_from_db()
    assert live_stream.state == "ended"


def test_the_sweep_deletes_unrecorded_segments_after_duration_plus_window(db):
    event = EventFactory(status=EventStatus.SCHEDULED)
    stream, _ = services.create_stream(event_id=event.pk, record=False)
    deliver(stream, 0, 5)  # 0 and 1 leave the 3 s window
    removed = Segment.objects.get(rendition__stream=stream, seq=0)
    keep_until = removed.removed_at + timedelta(seconds=1 + stream.window_seconds)
    path = f"live/{stream.public_id}/v/0.ts"
    assert services.sweep_streams(now=keep_until)["deleted"] == 0
    assert get_storage().size(path) == 188
    assert services.sweep_streams(now=keep_until + timedelta(milliseconds=1))["deleted"] == 2
    assert get_storage().size(path) is None


def test_recorded_segments_are_kept_for_the_replay(live_stream):
    deliver(live_stream, 2, 6)
    later = live_stream.last_segment_at + timedelta(days=1)
    assert services.sweep_streams(now=later)["deleted"] == 0


def test_an_unreachable_upstream_is_recorded_for_staff(db, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    event = EventFactory(status=EventStatus.SCHEDULED)
    stream, _ = services.create_stream(
        event_id=event.pk, mode=StreamMode.RELAY, relay_url=f"http://127.0.0.1:{port}/up.m3u8"
    )
    assert relay.poll_relay(stream_id=stream.pk) == 0
    stream.refresh_from_db()
    assert stream.last_error.startswith(
        f"Upstream: playlist: http://127.0.0.1:{port}/up.m3u8: cannot connect"
    )
    assert stream.state == "idle"


def test_a_relay_stream_takes_no_pushes(db, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    event = EventFactory(status=EventStatus.SCHEDULED)
    stream, key = services.create_stream(
        event_id=event.pk, mode=StreamMode.RELAY, relay_url="http://127.0.0.1:9/up.m3u8"
    )
    with pytest.raises(selectors.IngestRefused) as refused:
        selectors.access_stream_for_ingest(
            public_id=stream.public_id, authorization=f"Bearer {key}"
        )
    assert refused.value.status == 409


# --- the green room's figures, from real segments ---------------------------------------------

FPS = 25
IN = "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"  # OBS's menu paths, as the warnings say


def encode(
    directory: Path,
    *,
    audio: bool = True,
    keyframe_s: int = 2,
    audio_offset_s: float = 0.0,
    seconds: int = 8,
    noisy: bool = False,
    fmp4: bool = False,
) -> Path:
    """An encoder's HLS output in `directory` (2 s segments cut on time, as OBS's keyframe
    setting allows): a 320x240 test pattern at 25 fps, with a 440 Hz tone unless not
    `audio`, delayed by `audio_offset_s`; `noisy`: lossless noise, far above 6 Mbit/s;
    `fmp4`: fragmented MP4 segments after an initialization section, else MPEG-TS."""
    directory.mkdir()
    tone = ["-itsoffset", str(audio_offset_s)] if audio_offset_s else []
    tone += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"] if audio else []
    picture = ["-vf", "noise=alls=100:allf=t", "-qp", "0"] if noisy else []
    argv = ffmpeg.base_command(
        "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={FPS}", *tone, "-t", str(seconds),
        "-map", "0:v", *(["-map", "1:a", "-c:a", "aac", "-b:a", "64k"] if audio else []),
        "-c:v", "libx264", "-preset", "ultrafast", *picture, "-g", str(FPS * keyframe_s),
        "-keyint_min", str(FPS * keyframe_s), "-sc_threshold", "0",
        "-f", "hls", "-hls_time", "2", "-hls_list_size", "0", "-hls_flags", "split_by_time",
        *(["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"] if fmp4 else []),
        "-hls_segment_filename", str(directory / f"seg%d.{'m4s' if fmp4 else 'ts'}"),
        str(directory / "v.m3u8"),
    )  # fmt: skip
    subprocess.run(argv, check=True, timeout=120)
    return directory


@pytest.fixture(scope="session")
def encoded(tmp_path_factory) -> dict[str, Path]:
    """Each encoder output the tests measure, encoded once for the session."""
    base = tmp_path_factory.mktemp("encoded")
    return {
        "clean": encode(base / "clean"),
        "no_audio": encode(base / "no_audio", audio=False),
        "keyframes_6s": encode(base / "keyframes_6s", keyframe_s=6),
        "audio_late": encode(base / "audio_late", audio_offset_s=0.4),
        "noisy": encode(base / "noisy", seconds=4, noisy=True),
        "fmp4": encode(base / "fmp4", fmp4=True),
        "one_keyframe": encode(base / "one_keyframe", keyframe_s=6, seconds=4),
    }


def push(
    stream: Stream, directory: Path, *, corrupt: bytes | None = None, rendition: str = "v"
) -> None:
    """Deliver an encoder output as its PUTs leave it (through the services), still sending
    (its ENDLIST left out); `corrupt`: a last segment with these bytes."""
    storage = get_storage()
    prefix = "seg" if rendition == "v" else f"{rendition}-seg"
    for media in directory.iterdir():
        if media.suffix != ".m3u8":
            name = media.name.replace("seg", prefix, 1)
            storage.put(f"ingest/{stream.public_id}/{name}", media.read_bytes())
    lines = [line for line in (directory / "v.m3u8").read_text().splitlines()
             if line != "#EXT-X-ENDLIST"]  # fmt: skip
    if corrupt is not None:
        name = f"seg{len(list(directory.glob('seg*.ts')))}.ts"
        storage.put(f"ingest/{stream.public_id}/{name}", corrupt)
        lines += ["#EXTINF:2.000000,", name]
    text = "\n".join(line.replace("seg", prefix, 1) for line in lines) + "\n"
    services.receive_playlist(stream_id=stream.pk, name=f"{rendition}.m3u8", text=text)


def total_kbps(directory: Path) -> int:
    segments = list(directory.glob("seg*"))
    return round(sum(p.stat().st_size for p in segments) * 8 / (2.0 * len(segments)) / 1000)


@pytest.fixture
def green_room_stream(settings, scheduled_event) -> Stream:
    """The scheduled event's stream with production's 2 s target duration (the tests' 1 s
    allows no 2 s keyframe interval)."""
    settings.HLS_TARGET_DURATION = 2
    settings.HLS_WINDOW_SECONDS = 12
    return services.create_stream(event_id=scheduled_event.pk)[0]


def test_a_clean_stream_has_its_figures_and_no_warning(green_room_stream, encoded):
    push(green_room_stream, encoded["clean"])
    measured = health.measure(green_room_stream.pk)
    assert measured is not None
    assert (measured.rendition, measured.renditions, measured.segments, measured.duration_s) == (
        "v",
        1,
        4,
        8.0,
    )
    assert measured.total_kbps == total_kbps(encoded["clean"])
    assert measured.video_kbps is not None
    assert 0 < measured.video_kbps < measured.total_kbps
    assert (measured.video_codec, measured.width, measured.height, measured.fps) == (
        "h264",
        320,
        240,
        25.0,
    )
    assert (measured.keyframe_interval_s, measured.keyframe_interval_at_least) == (2.0, False)
    assert (measured.audio_codec, measured.audio_sample_rate, measured.audio_channels) == (
        "aac",
        48000,
        1,
    )
    assert measured.av_drift_ms is not None
    assert abs(measured.av_drift_ms) < health.DRIFT_MS
    assert measured.warnings == ()


def test_fragmented_mp4_segments_are_measured_with_their_initialization_section(
    green_room_stream, encoded
):
    push(green_room_stream, encoded["fmp4"])
    measured = health.measure(green_room_stream.pk)
    assert measured is not None
    assert (measured.segments, measured.total_kbps) == (4, total_kbps(encoded["fmp4"]))
    assert (measured.video_codec, measured.width, measured.height, measured.fps) == (
        "h264", 320, 240, 25.0
    )  # fmt: skip
    assert (measured.keyframe_interval_s, measured.audio_codec) == (2.0, "aac")
    assert measured.warnings == ()


def test_the_table_reads_the_figures(green_room_stream, encoded):
    push(green_room_stream, encoded["clean"])
    measured = health.measure(green_room_stream.pk)
    assert measured is not None
    kbps, video_kbps = measured.total_kbps, measured.video_kbps
    drift = abs(measured.av_drift_ms or 0)
    assert health.rows(measured) == [
        health.HealthRow("Video", "320\N{MULTIPLICATION SIGN}240, h264, 25 fps", False),
        health.HealthRow("Bitrate", f"{kbps} kbit/s (video {video_kbps} kbit/s)", False),
        health.HealthRow("Keyframe interval", "2 s", False),
        health.HealthRow("Audio", "aac, 48 kHz, mono", False),
        health.HealthRow(
            "A/V drift",
            f"{drift} ms" + (", audio behind video" if (measured.av_drift_ms or 0) > 0
                             else ", audio ahead of video" if drift else ""),
            False,
        ),
    ]  # fmt: skip


def test_a_stream_without_audio_is_flagged(green_room_stream, encoded):
    push(green_room_stream, encoded["no_audio"])
    measured = health.measure(green_room_stream.pk)
    assert measured is not None
    assert (measured.audio_codec, measured.av_drift_ms, measured.width) == (None, None, 320)
    assert measured.warnings == ("No audio: check the encoder's microphone or audio source.",)
    assert health.rows(measured)[3] == health.HealthRow("Audio", "none", True)


def test_keyframes_6_seconds_apart_are_flagged_with_the_obs_setting(green_room_stream, encoded):
    push(green_room_stream, encoded["keyframes_6s"])
    measured = health.measure(green_room_stream.pk)
    assert measured is not None
    assert (measured.keyframe_interval_s, measured.keyframe_interval_at_least) == (6.0, False)
    assert measured.warnings == (
        f"Keyframe interval 6 s: set it to 2 s in OBS (Output {IN} Keyframe Interval).",
    )
    assert health.rows(measured)[2] == health.HealthRow("Keyframe interval", "6 s", True)


def test_one_keyframe_in_the_window_gives_a_lower_bound(green_room_stream, encoded):
    push(green_room_stream, encoded["one_keyframe"])  # 4 s of a 6 s keyframe interval
    measured = health.measure(green_room_stream.pk)
    assert measured is not None
    assert (measured.keyframe_interval_s, measured.keyframe_interval_at_least) == (4.0, True)
    assert measured.warnings == (
        f"Keyframe interval at least 4 s: set it to 2 s in OBS (Output {IN} Keyframe Interval).",
    )
    assert health.rows(measured)[2] == health.HealthRow("Keyframe interval", "at least 4 s", True)


def test_audio_starting_400_ms_late_is_flagged(green_room_stream, encoded):
    push(green_room_stream, encoded["audio_late"])
    measured = health.measure(green_room_stream.pk)
    assert measured is not None
    drift = measured.av_drift_ms
    # 400 ms less the encoder's priming and the AAC frame it lands in.
    assert drift is not None
    assert 350 <= drift <= 400
    assert measured.warnings == (
        f"Audio and video {drift} ms apart: check the encoder's audio sync offset.",
    )
    assert health.rows(measured)[4] == health.HealthRow(
        "A/V drift", f"{drift} ms, audio behind video", True
    )


def test_a_single_rendition_above_6_mbits_is_flagged_for_phones(green_room_stream, encoded):
    push(green_room_stream, encoded["noisy"])
    measured = health.measure(green_room_stream.pk)
    assert measured is not None
    kbps = total_kbps(encoded["noisy"])
    assert kbps > health.HIGH_BITRATE_KBPS
    assert measured.total_kbps == kbps
    assert measured.warnings == (
        f"Bitrate {kbps / 1000:.1f} Mbit/s is high for viewers on phones: 4.5 Mbit/s is "
        f"plenty for 1080p (OBS: Output {IN} Bitrate).",
    )
    assert health.rows(measured)[1].warning


def test_the_top_rendition_is_measured_and_phones_have_a_lower_one(green_room_stream, encoded):
    push(green_room_stream, encoded["clean"], rendition="low")
    push(green_room_stream, encoded["noisy"], rendition="high")
    measured = health.measure(green_room_stream.pk)
    assert measured is not None
    assert (measured.rendition, measured.renditions) == ("high", 2)
    assert measured.total_kbps == total_kbps(encoded["noisy"])
    assert measured.warnings == ()


def test_recorded_figures_are_read_back_until_they_are_stale(green_room_stream, encoded):
    push(green_room_stream, encoded["clean"])
    stored = health.record_health(green_room_stream.pk)
    assert stored is not None
    green_room_stream.refresh_from_db()
    assert green_room_stream.health_at == stored.measured_at
    assert health.current_health(green_room_stream) == stored
    stale = stored.measured_at + health.STALE_AFTER + timedelta(milliseconds=1)
    assert health.current_health(green_room_stream, now=stale) is None


def test_figures_are_measured_again_only_after_5_seconds(green_room_stream, encoded):
    push(green_room_stream, encoded["clean"])
    first = health.record_health(green_room_stream.pk)
    assert first is not None
    assert health.record_health(green_room_stream.pk, now=first.measured_at) is None
    later = first.measured_at + health.MEASURE_EVERY
    again = health.record_health(green_room_stream.pk, now=later)
    assert again is not None
    assert again.measured_at > first.measured_at


def test_a_corrupt_segment_leaves_the_previous_figures(green_room_stream, encoded, caplog):
    push(green_room_stream, encoded["clean"])
    first = health.record_health(green_room_stream.pk)
    assert first is not None
    green_room_stream.refresh_from_db()
    before = (green_room_stream.health, green_room_stream.health_at)
    push(green_room_stream, encoded["clean"], corrupt=b"\x47" + b"\xff" * 187 * 100)
    with caplog.at_level(logging.WARNING, logger="streaming.health"):
        later = first.measured_at + health.MEASURE_EVERY
        assert health.record_health(green_room_stream.pk, now=later) is None
    green_room_stream.refresh_from_db()
    assert (green_room_stream.health, green_room_stream.health_at) == before
    [record] = [r for r in caplog.records if r.name == "streaming.health"]
    assert (record.getMessage(), record.stream_id, record.segment) == (
        "stream health probe failed", green_room_stream.pk, 4
    )  # fmt: skip
    assert record.error == "no packets in segment 5 of 5"


def test_the_worker_tries_a_failing_stream_again_only_after_5_seconds(live_stream, caplog):
    rounds = health.HealthRounds()
    with caplog.at_level(logging.WARNING, logger="streaming.health"):
        assert rounds.run(budget_s=10) == 0  # its segments are not MPEG-TS
        assert rounds.run(budget_s=10) == 0
    failed = [r for r in caplog.records if r.name == "streaming.health"]
    assert [(r.getMessage(), r.stream_id) for r in failed] == [
        ("stream health probe failed", live_stream.pk)
    ]
    live_stream.refresh_from_db()
    assert (live_stream.health, live_stream.health_at) == ({}, None)


def test_an_idle_stream_is_not_measured(green_room_stream):
    assert health.record_health(green_room_stream.pk) is None
    green_room_stream.refresh_from_db()
    assert (green_room_stream.health, green_room_stream.health_at) == ({}, None)


@pytest.mark.django_db(transaction=True)
def test_the_stream_worker_measures_a_receiving_stream_and_not_an_idle_one(
    settings, campaign, encoded, media_root
):
    settings.HLS_TARGET_DURATION = 2
    settings.HLS_WINDOW_SECONDS = 12
    receiving, _ = services.create_stream(
        event_id=EventFactory(campaign=campaign, status=EventStatus.SCHEDULED).pk
    )
    idle, _ = services.create_stream(
        event_id=EventFactory(campaign=campaign, status=EventStatus.SCHEDULED).pk
    )
    push(receiving, encoded["no_audio"])

    def measured() -> bool:
        subprocess.run(
            [sys.executable, "manage.py", "stream_worker", "--once"],
            cwd=processes.ROOT, env=processes.server_env(hls_env(media_root)), check=True,
            timeout=60,
        )  # fmt: skip
        return Stream.objects.get(pk=receiving.pk).health_at is not None

    wait_for(measured, 60, 0, what="the worker's measurement")
    stored = health.current_health(Stream.objects.get(pk=receiving.pk))
    assert stored is not None
    assert (stored.width, stored.height, stored.audio_codec) == (320, 240, None)
    assert stored.warnings == ("No audio: check the encoder's microphone or audio source.",)
    idle.refresh_from_db()
    assert (idle.health, idle.health_at, idle.state) == ({}, None, "idle")
    assert timezone.now() - stored.measured_at < health.STALE_AFTER
