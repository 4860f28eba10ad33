"""Real ffmpeg pushes through the real ingest under uvicorn, all at once (about 30 s):

- A: a 20-second test stream with two renditions (`-var_stream_map`, `-master_pl_name`),
  stopped cleanly (ffmpeg's EXT-X-ENDLIST);
- B: one rendition, not recorded: killed (a stall), then a new encoder (a reconnect), then
  a clean stop;
- C: relay mode, pulling a loopback upstream that ffmpeg writes.

A recorder fetches every playlist over HTTP while they run; the tests then check what was
served. The scenario runs once per module; each test checks one behaviour of it."""

from __future__ import annotations

import http.server
import signal
import socketserver
import subprocess
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from events import livebus
from events.models import Event, EventStatus
from streaming import ffmpeg, selectors, services, show, teststream
from streaming.models import Stream, StreamMode
from tests.factories import EventFactory
from tests.streaming import hls_checks
from tests.support import free_port, wait_for
from tests.support.streaming import LOOPBACK_NETWORKS, TARGET_DURATION, WINDOW_SECONDS

pytestmark = pytest.mark.django_db(transaction=True)

PUSH_SECONDS = 20


@dataclass
class Recorder:
    """Fetches playlists every 0.2 s and keeps each distinct version, in order. For media
    playlists, a segment that left the playlist is fetched again when it must still be
    there (duration + window after it left, less the polling slack)."""

    server: object
    paths: list[str] = field(default_factory=list)
    versions: dict[str, list[str]] = field(default_factory=dict)
    retention: list[tuple[str, int]] = field(default_factory=list)
    pending: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def watch(self, path: str) -> None:
        self.paths.append(path)

    def run(self) -> None:
        while not self.stop.is_set():
            for path in list(self.paths):
                status, _, body = self.server.get(path)
                if status != 200:
                    continue
                text = body.decode()
                seen = self.versions.setdefault(path, [])
                if not seen or seen[-1] != text:
                    if seen and "#EXTINF" in text:
                        self._schedule_retention_checks(path, seen[-1], text)
                    seen.append(text)
            self.stop.wait(0.2)

    def _schedule_retention_checks(self, path: str, old: str, new: str) -> None:
        before, after = hls_checks.parse(old), hls_checks.parse(new)
        for seg in before.segments:
            if seg.seq < after.media_sequence:
                url = path.rsplit("/", 1)[0] + "/" + seg.uri
                delay = seg.duration + WINDOW_SECONDS - 0.5
                self.pending += 1
                threading.Timer(delay, self._check_still_there, (url,)).start()

    def _check_still_there(self, url: str) -> None:
        status, _, _ = self.server.get(url)
        self.retention.append((url, status))
        self.pending -= 1


def _run_upstream(directory: Path, port: int) -> socketserver.TCPServer:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    httpd = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _stream(pk: int) -> Stream:
    return Stream.objects.select_related("event").get(pk=pk)


@pytest.fixture(scope="module")
def scenario(server, django_db_blocker, tmp_path_factory):
    # Module-scoped: set up before the per-test settings fixture, so say it here. C's upstream
    # is on loopback: the operator's allow-list names it, as for the servers (server_env).
    # Staff end the shows from this process: it writes the replays into the servers' storage.
    with override_settings(HLS_TARGET_DURATION=TARGET_DURATION, HLS_WINDOW_SECONDS=WINDOW_SECONDS,
                           OUTBOUND_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,
                           MEDIA_ROOT=server.media_root):  # fmt: skip
        yield _run_scenario(server, django_db_blocker, tmp_path_factory)


def _run_scenario(server, django_db_blocker, tmp_path_factory) -> dict:
    out: dict = {"notices": []}
    with django_db_blocker.unblock():
        a_event = EventFactory(status=EventStatus.SCHEDULED)
        b_event = EventFactory(status=EventStatus.SCHEDULED)
        c_event = EventFactory(status=EventStatus.SCHEDULED)
        a, a_key = services.create_stream(event_id=a_event.pk)
        # A's replay keeps what came before "Go live" too: the whole recording.
        Stream.objects.filter(pk=a.pk).update(record_practice=True)
        b, b_key = services.create_stream(event_id=b_event.pk, record=False)
    out.update(a=a, b=b, a_event=a_event.pk, b_event=b_event.pk, c_event=c_event.pk)

    # The live room's channel: collect our events' "stream" notices.
    pubsub = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    pubsub.subscribe(livebus.channel())
    ours = {a_event.pk, b_event.pk, c_event.pk}

    def listen() -> None:
        while not recorder.stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message":
                parts = message["data"].decode().split("|")
                if parts[0] == "c" and int(parts[1]) in ours and parts[2] == "stream":
                    out["notices"].append(int(parts[1]))

    recorder = Recorder(server)
    for path in ("master.m3u8", "stream_0/index.m3u8", "stream_1/index.m3u8"):
        recorder.watch(f"/live/{a.public_id}/{path}")
    recorder.watch(f"/live/{b.public_id}/stream/index.m3u8")
    threading.Thread(target=recorder.run, daemon=True).start()
    threading.Thread(target=listen, daemon=True).start()

    # C's upstream: ffmpeg writing HLS files that a loopback HTTP server serves.
    upstream_dir = tmp_path_factory.mktemp("upstream")
    upstream = _run_upstream(upstream_dir, free_port())
    upstream_ffmpeg = ffmpeg.start(ffmpeg.base_command(
        "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi",
        "-i", "sine=frequency=220:sample_rate=48000", "-t", "10", "-c:v", "libx264",
        "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
        "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
        "-hls_flags", "delete_segments", str(upstream_dir / "up.m3u8"),
    ))  # fmt: skip
    wait_for(lambda: (upstream_dir / "up.m3u8").exists(), 15, what="the upstream playlist")
    with django_db_blocker.unblock():
        c, _ = services.create_stream(
            event_id=c_event.pk,
            mode=StreamMode.RELAY,
            relay_url=f"http://127.0.0.1:{upstream.server_address[1]}/up.m3u8",
        )
    out["c"] = c
    recorder.watch(f"/live/{c.public_id}/r0/index.m3u8")

    def push(stream: Stream, key: str, renditions: int, seconds: float) -> subprocess.Popen:
        return ffmpeg.start(
            teststream.push_command(
                ingest_url=server.ingest_url(stream.public_id), key=key,
                target_duration=TARGET_DURATION, renditions=renditions, seconds=seconds,
            )
        )  # fmt: skip

    started = time.monotonic()
    a_push = push(a, a_key, 2, PUSH_SECONDS)
    b_push = push(b, b_key, 1, 60)

    with django_db_blocker.unblock():
        # A mid-run: video arriving opens the green room; staff go live; ffprobe decodes the
        # master. B and C go live as soon as their video arrives.
        wait_for(lambda: _stream(a.pk).state == "live", 20, what="A receiving")
        out["a_event_backstage"] = Event.objects.get(pk=a_event.pk).status
        show.go_live(event_id=a_event.pk)
        out["a_event_live"] = Event.objects.get(pk=a_event.pk).status
        for stream, event in ((b, b_event), (c, c_event)):
            wait_for(lambda s=stream: _stream(s.pk).state == "live", 20, what="receiving")
            show.go_live(event_id=event.pk)
        wait_for(lambda: len(recorder.versions.get(recorder.paths[1], [])) >= 4, 20, what="A")
        out["probe_live"] = ffmpeg.probe(
            f"{server.origin}/live/{a.public_id}/master.m3u8",
            "-show_entries", "stream=codec_type,width,height,nb_read_frames",
            "-count_frames", "-read_intervals", "%+2",
        )  # fmt: skip

        # B: SIGKILL the encoder (no ENDLIST) once it has published 6 segments.
        wait_for(lambda: _stream(b.pk).renditions.filter(next_seq__gte=6).exists(), 30, what="B")
        b_push.send_signal(signal.SIGKILL)
        b_push.wait()
        last_segment_at = _stream(b.pk).last_segment_at
        wait_for(lambda: selectors.effective_state(_stream(b.pk)) == "reconnecting", 10, 0.02)
        out["b_reconnecting_seen_after"] = time.time() - last_segment_at.timestamp()
        wait_for(lambda: _stream(b.pk).state == "reconnecting", 10, 0.02, what="B (worker)")
        out["b_reconnecting_recorded_after"] = time.time() - last_segment_at.timestamp()
        out["b_event_while_reconnecting"] = Event.objects.get(pk=b_event.pk).status

        # B: a new encoder session (its numbering restarts), then a clean stop (ENDLIST): a
        # pause, the show goes on; staff end it.
        b_push2 = push(b, b_key, 1, 6)
        assert b_push2.wait(60) == 0
        wait_for(lambda: _stream(b.pk).state == "reconnecting", 15, what="B paused")
        out["b_event_after_endlist"] = Event.objects.get(pk=b_event.pk).status
        out["b_stop_index"] = len(recorder.versions[recorder.paths[3]])
        show.end_show(event_id=b_event.pk)

        assert a_push.wait(60) == 0
        wait_for(lambda: _stream(a.pk).state == "reconnecting", 15, what="A paused")
        out["a_event_after_endlist"] = Event.objects.get(pk=a_event.pk).status
        out["a_stop_index"] = {p: len(recorder.versions.get(p, [])) for p in recorder.paths[:3]}
        show.end_show(event_id=a_event.pk)
        out["a_event_end"] = Event.objects.get(pk=a_event.pk).status
        upstream_ffmpeg.wait(60)
        wait_for(lambda: _stream(c.pk).state == "reconnecting", 20, what="C paused")
        show.end_show(event_id=c_event.pk)
        out["c_final"] = _stream(c.pk)
        out["c_event_end"] = Event.objects.get(pk=c_event.pk).status
        # The retention checks still scheduled (each ≤ window + 1 s away).
        wait_for(lambda: recorder.pending == 0, WINDOW_SECONDS + 5, 0.1, what="retention")
        # B's first segment left the window long ago: the worker deletes it.
        out["b_first_segment_deleted"] = wait_for(
            lambda: server.get(f"/live/{b.public_id}/stream/0.ts")[0] == 404, 5, 0.1
        )
        out["probe_replay"] = ffmpeg.probe(
            f"{server.origin}/live/{a.public_id}/replay.m3u8",
            "-show_entries", "format=duration:stream=codec_type,nb_read_frames",
            "-count_frames", "-select_streams", "v:0",
        )  # fmt: skip
        out["probe_relay"] = ffmpeg.probe(
            f"{server.origin}/live/{c.public_id}/r0/index.m3u8",
            "-show_entries", "stream=codec_type,nb_read_frames", "-count_frames",
        )  # fmt: skip
        out["elapsed"] = time.monotonic() - started
    recorder.stop.set()
    upstream.shutdown()
    out["recorder"] = recorder
    return out


def test_video_arriving_opens_the_green_room_and_go_live_makes_it_public(scenario):
    assert scenario["a_event_backstage"] == EventStatus.BACKSTAGE
    assert scenario["a_event_live"] == EventStatus.LIVE


def test_ffprobe_decodes_the_two_rendition_master_over_http(scenario):
    videos = [s for s in scenario["probe_live"]["streams"] if s["codec_type"] == "video"]
    assert sorted((v["width"], v["height"]) for v in videos) == [(320, 180), (640, 360)]
    assert all(int(v["nb_read_frames"]) > 0 for v in videos)


def test_every_served_playlist_passes_the_m3u8_parser(scenario):
    texts = {
        f"{path}#{i}": text
        for path, versions in scenario["recorder"].versions.items()
        for i, text in enumerate(versions)
    }
    assert len(texts) > 60
    assert hls_checks.m3u8_failures(texts) == []


def test_every_served_playlist_passes_hls_parser_in_strict_mode(scenario):
    texts = {
        f"{path}#{i}": text
        for path, versions in scenario["recorder"].versions.items()
        for i, text in enumerate(versions)
    }
    assert hls_checks.hls_parser_strict_failures(texts) == []


def test_the_two_renditions_obey_rfc_8216_up_to_the_stop(scenario):
    a = scenario["a"]
    for name in ("stream_0", "stream_1"):
        path = f"/live/{a.public_id}/{name}/index.m3u8"
        versions = scenario["recorder"].versions[path]
        problems = hls_checks.rfc_problems(
            versions, target=TARGET_DURATION, window=WINDOW_SECONDS,
            stop_seen_at=scenario["a_stop_index"][path] - 1,
        )  # fmt: skip
        assert problems == []
        final = hls_checks.parse(versions[-1])
        assert final.ended
        assert sum(1 for v in versions if "#EXT-X-ENDLIST" in v) == 1


def test_the_reconnect_and_the_stop_obey_rfc_8216(scenario):
    path = f"/live/{scenario['b'].public_id}/stream/index.m3u8"
    versions = scenario["recorder"].versions[path]
    problems = hls_checks.rfc_problems(
        versions, target=TARGET_DURATION, window=WINDOW_SECONDS,
        stop_seen_at=scenario["b_stop_index"] - 1,
    )  # fmt: skip
    assert problems == []


def test_the_reconnect_is_one_discontinuity_counted_once_it_leaves_the_window(scenario):
    path = f"/live/{scenario['b'].public_id}/stream/index.m3u8"
    parsed = [hls_checks.parse(v) for v in scenario["recorder"].versions[path]]
    discontinuous = {s.seq for p in parsed for s in p.segments if s.discontinuity}
    assert len(discontinuous) == 1
    (seq,) = discontinuous
    assert all(p.discontinuity_sequence == (1 if p.media_sequence > seq else 0) for p in parsed)
    assert parsed[-1].media_sequence > seq


def test_a_dropped_encoder_is_seen_within_two_target_durations_of_the_last_segment(scenario):
    assert scenario["b_reconnecting_seen_after"] <= 2 * TARGET_DURATION + 0.25
    # The worker sweeps every 0.25 s: it records (and publishes) it right after.
    assert scenario["b_reconnecting_recorded_after"] <= 2 * TARGET_DURATION + 0.25 + 0.5
    assert scenario["b_event_while_reconnecting"] == EventStatus.LIVE


def test_the_encoders_endlist_is_a_pause_and_only_end_show_ends_the_event(scenario):
    assert scenario["a_event_after_endlist"] == EventStatus.LIVE
    assert scenario["b_event_after_endlist"] == EventStatus.LIVE
    assert scenario["a_event_end"] == EventStatus.ENDED


def test_every_state_change_is_published_to_the_live_room(scenario):
    notices = scenario["notices"]
    # A: receiving, reconnecting (its ENDLIST), ended. B: receiving, reconnecting (killed),
    # receiving, reconnecting (its ENDLIST), ended. C: receiving, reconnecting, ended.
    assert notices.count(scenario["a_event"]) == 3
    assert notices.count(scenario["b_event"]) == 5
    assert notices.count(scenario["c_event"]) == 3


def test_removed_segments_stay_fetchable_for_their_duration_plus_the_window(scenario):
    checks = scenario["recorder"].retention
    assert len(checks) > 10
    assert [c for c in checks if c[1] != 200] == []


def test_segments_of_an_unrecorded_stream_are_deleted_after_retention(scenario):
    assert scenario["b_first_segment_deleted"] is True


def test_the_replay_plays_the_whole_recording(scenario):
    probe = scenario["probe_replay"]
    assert abs(float(probe["format"]["duration"]) - PUSH_SECONDS) < 1.5
    assert int(probe["streams"][0]["nb_read_frames"]) >= (PUSH_SECONDS - 1) * 25


def test_relay_mode_republishes_the_upstream_until_the_show_ends(scenario):
    c = scenario["c_final"]
    assert c.last_error == ""
    assert scenario["c_event_end"] == EventStatus.ENDED
    path = f"/live/{c.public_id}/r0/index.m3u8"
    versions = scenario["recorder"].versions[path]
    assert hls_checks.rfc_problems(versions, target=TARGET_DURATION, window=WINDOW_SECONDS) == []
    frames = int(scenario["probe_relay"]["streams"][0]["nb_read_frames"])
    assert frames > 0


def test_the_whole_scenario_stays_within_the_time_budget(scenario):
    assert scenario["elapsed"] < 60
