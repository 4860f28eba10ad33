"""OBS-like RTMP publishing through the real stack, all at once (about 30 s):

- P: passthrough, public. Published with the right key: it goes live, viewers read it through
  the edge; its transcoder's ffmpeg is SIGKILLed mid-stream and restarted by the supervisor.
- L: the adaptive ladder, signed playback. An 854x480 source with its bit rate in the FLV
  metadata: copied as the top rung (480p), 360p encoded from it.
- W: a wrong key, then a rotated (old) key: refused before any media is written.

A recorder fetches P's playlists through the edge while they run; the tests then check what
was served. The scenario runs once per module; each test checks one behaviour of it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

import pytest
from django.test import override_settings
from playwright.sync_api import sync_playwright

from events.models import Event, EventStatus
from streaming import ffmpeg, services, show, signing
from streaming.models import LadderChoice, Stream, Transcoder
from tests.browser import CHROMIUM_ARGS, chromium_path
from tests.factories import EventFactory
from tests.streaming import hls_checks
from tests.support import player_config, wait_for
from tests.support.processes import ROOT
from tests.support.rtmp import SIGNING_SECRET
from tests.support.streaming import TARGET_DURATION, WINDOW_SECONDS, stored_files

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Recorder:
    """Fetches playlists through the edge every 0.2 s and keeps each distinct version."""

    get: object
    paths: list[str]
    versions: dict[str, list[str]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            for path in self.paths:
                try:
                    status, _, body = self.get(path)
                except OSError:
                    continue  # the stack is stopping
                if status != 200:
                    continue
                seen = self.versions.setdefault(path, [])
                if not seen or seen[-1] != body.decode():
                    seen.append(body.decode())
            self.stop.wait(0.2)


HLS_JS = ROOT / "node_modules" / "hls.js" / "dist" / "hls.min.js"
PLAYER = """
<video id="v" muted playsinline></video>
"""
START = """url => {
    const video = document.getElementById("v");
    window.fatal = [];
    const hls = new Hls({ liveSyncDurationCount: 3 });
    hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) window.fatal.push(data.details); });
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
    hls.loadSource(url);
    hls.attachMedia(video);
}"""


class Browser(threading.Thread):
    """Headless Chromium playing a URL with hls.js (the player the event page will use), on
    its own thread; `played()` is the seconds of media played so far."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.current = 0.0
        self.width = 0
        self.fatal: list[str] = []
        self.failed = ""

    def played(self) -> float:
        return self.current

    def run(self) -> None:
        try:
            with sync_playwright() as p:
                chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                page = chromium.new_page()
                page.set_content(PLAYER)
                page.add_script_tag(path=str(HLS_JS))
                page.evaluate(START, self.url)
                while not self.stop.is_set():
                    state = page.evaluate(
                        "() => [document.getElementById('v').currentTime,"
                        " document.getElementById('v').videoWidth, window.fatal]"
                    )
                    self.current, self.width, self.fatal = state
                    self.stop.wait(0.2)
                chromium.close()
        except Exception as exc:  # reported by the tests, not lost in the thread
            self.failed = repr(exc)


def _segments(stream_pk: int) -> dict[str, int]:
    return dict(Stream.objects.get(pk=stream_pk).renditions.values_list("name", "next_seq"))


def _signature_answers(stack, stream, event) -> dict[str, tuple[int, str]]:
    """(status, body) for good, tampered, expired and missing signatures, at the edge and
    from Django directly, and the URL the event page hands its player."""
    now = int(time.time())

    def prefix(expires: int, tamper: bool = False) -> str:
        token = signing.playback_token(
            public_id=stream.public_id, expires=expires, secret=SIGNING_SECRET
        )
        if tamper:
            token = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        return f"/s/{token}/{expires}/live/{stream.public_id}"

    paths = {
        "good": f"{prefix(now + 600)}/master.m3u8",
        "tampered": f"{prefix(now + 600, tamper=True)}/master.m3u8",
        "tampered_segment": f"{prefix(now + 600, tamper=True)}/360p/1.ts",
        "expired": f"{prefix(now - 5)}/master.m3u8",
        "longer_expiry": prefix(now + 600).replace(f"/{now + 600}/", f"/{now + 6000}/")
        + "/master.m3u8",
        "unsigned": f"/live/{stream.public_id}/master.m3u8",
    }
    answers = {}
    for where, get in (("edge", stack.edge_get), ("django", stack.web_get)):
        for name, path in paths.items():
            status, _, body = get(path)
            answers[f"{where}_{name}"] = (status, body.decode()[:60])
    page = stack.web_get(f"/events/{event.slug}/")[2].decode()
    # A signed stream's URL is never in the page (stream.json hands it to admitted viewers).
    answers["page_url"] = (0, player_config(page).get("master_url") or "")
    return answers


@pytest.fixture(scope="module")
def scenario(stack, django_db_blocker):
    out: dict = {}
    with django_db_blocker.unblock():
        p_event = EventFactory(status=EventStatus.SCHEDULED)
        l_event = EventFactory(status=EventStatus.SCHEDULED)
        w_event = EventFactory(status=EventStatus.SCHEDULED)
        # The servers' segment length and window (this fixture cannot use `settings`).
        with override_settings(HLS_TARGET_DURATION=TARGET_DURATION,
                               HLS_WINDOW_SECONDS=WINDOW_SECONDS):  # fmt: skip
            p, p_key = services.create_stream(event_id=p_event.pk)
            l_stream, l_key = services.create_stream(event_id=l_event.pk)
        Stream.objects.filter(pk=l_stream.pk).update(
            ladder=LadderChoice.ADAPTIVE, signed_playback=True
        )
        w, w_key = services.create_stream(event_id=w_event.pk)
        old_w_key = w_key
        w_key = services.rotate_stream_key(stream_id=w.pk)
    out.update(p=p, l=l_stream, w=w, p_event=p_event.pk)
    # Signed with the servers' secret (this module-scoped fixture cannot change settings).
    expires = int(time.time()) + 600
    token = signing.playback_token(
        public_id=l_stream.public_id, expires=expires, secret=SIGNING_SECRET
    )
    l_prefix = f"/s/{token}/{expires}/live/{l_stream.public_id}"
    out["l_prefix"] = l_prefix

    # Every version the origin served, and what viewers got through the edge.
    recorder = Recorder(stack.web_get, [f"/live/{p.public_id}/source/index.m3u8"])
    edge_recorder = Recorder(stack.edge_get, [f"/live/{p.public_id}/source/index.m3u8"])
    threading.Thread(target=recorder.run, daemon=True).start()
    threading.Thread(target=edge_recorder.run, daemon=True).start()
    started = time.monotonic()

    # W: a wrong key, then the key from before the rotation: both refused by on_publish.
    out["w_wrong"] = stack.publish(w.public_id, "sk_wrong", seconds=3)
    out["w_old"] = stack.publish(w.public_id, old_w_key, seconds=3)
    p_pub = stack.publish(p.public_id, p_key)
    l_pub = stack.publish(l_stream.public_id, l_key, size="854x480", kbps=1200)

    with django_db_blocker.unblock():
        out["w_wrong_rc"] = out["w_wrong"].wait(20)
        out["w_old_rc"] = out["w_old"].wait(20)
        out["w_stderr"] = out["w_wrong"].stderr.read().decode()

        wait_for(lambda: Stream.objects.get(pk=p.pk).state == "live", 30, 0.1, what="P live")
        # Video arriving opens the green room; staff go live (and with L's too).
        out["p_event_backstage"] = Event.objects.get(pk=p_event.pk).status
        show.go_live(event_id=p_event.pk)
        out["p_event_live"] = Event.objects.get(pk=p_event.pk).status
        wait_for(lambda: Stream.objects.get(pk=l_stream.pk).state == "live", 30, 0.1,
                 what="L live")  # fmt: skip
        show.go_live(event_id=l_event.pk)
        wait_for(lambda: _segments(p.pk).get("source", 0) >= 4, 20, 0.1, what="P segments")
        out["probe_live"] = ffmpeg.probe(
            f"http://127.0.0.1:{stack.edge_port}/live/{p.public_id}/master.m3u8",
            "-show_entries", "stream=codec_type,width,height,nb_read_frames",
            "-count_frames", "-read_intervals", "%+2",
        )  # fmt: skip

        # A viewer's browser plays P through the edge with hls.js, across what follows.
        browser = Browser(f"http://127.0.0.1:{stack.edge_port}/live/{p.public_id}/master.m3u8")
        browser.start()
        wait_for(lambda: browser.played() >= 2 or browser.failed, 30, 0.1, what="playback")
        # Kill the transcoder's ffmpeg: the supervisor restarts it.
        row = Transcoder.objects.get(stream=p)
        assert row.pid is not None, (row.restarts, row.last_error)
        out["p_pid_before"] = row.pid
        out["p_published_before_kill"] = _segments(p.pk)["source"]
        os.kill(row.pid, signal.SIGKILL)
        out["played_at_kill"] = browser.played()
        wait_for(lambda: Transcoder.objects.get(stream=p).restarts == 1, 20, 0.1, what="restart")
        killed_at = out["p_published_before_kill"]
        wait_for(lambda: _segments(p.pk)["source"] >= killed_at + 4, 25, 0.1, what="P resumed")
        out["p_row_after"] = Transcoder.objects.get(stream=p)

        # L: both renditions published; the master and aligned renditions, signed.
        wait_for(lambda: min(_segments(l_stream.pk).values() or [0]) >= 4 and
                 len(_segments(l_stream.pk)) == 2, 30, 0.1, what="L renditions")  # fmt: skip
        out["l_master"] = stack.edge_get(f"{l_prefix}/master.m3u8")

        # Both renditions' playlists read as one moment: under load one rendition's window can
        # run a few segments ahead of the other's, so read them again until they overlap.
        def ladder_playlists() -> bool:
            out["l_media"] = {
                name: stack.edge_get(f"{l_prefix}/{name}/index.m3u8")[2].decode()
                for name in ("480p", "360p")
            }
            seqs = [{s.seq for s in hls_checks.parse(t).segments} for t in out["l_media"].values()]
            return len(seqs[0] & seqs[1]) >= 3

        wait_for(ladder_playlists, 20, 0.2, what="both renditions' playlists overlapping")
        out["l_probe"] = ffmpeg.probe(
            f"http://127.0.0.1:{stack.edge_port}{l_prefix}/master.m3u8",
            "-show_entries", "stream=codec_type,width,height",
        )  # fmt: skip
        out["signatures"] = _signature_answers(stack, l_stream, l_event)
        l_row = Transcoder.objects.get(stream=l_stream)
        out["l_row"] = l_row
        out["l_segment_starts"] = {}
        media = hls_checks.parse(out["l_media"]["360p"])
        seq = media.segments[-2].seq
        for name in ("480p", "360p"):
            probe = ffmpeg.probe(
                f"http://127.0.0.1:{stack.edge_port}{l_prefix}/{name}/{seq}.ts",
                "-select_streams", "v:0",
                "-show_entries", "packet=pts_time,flags:stream=codec_name,width,height",
                "-read_intervals", "%+#1",
            )  # fmt: skip
            out["l_segment_starts"][name] = probe["packets"][0]
            out.setdefault("l_segment_sizes", {})[name] = (
                probe["streams"][0]["codec_name"], probe["streams"][0]["width"],
                probe["streams"][0]["height"],
            )  # fmt: skip
        out["l_seq"] = seq

        # The stored files of W, after both refusals.
        out["w_files"] = stored_files(stack.media_root, w.public_id)
        out["w_transcoder"] = Transcoder.objects.filter(stream=w).exists()

        # Stop the encoders: on_publish_done stops the transcoders.
        out["played_at_end"] = browser.played()
        browser.stop.set()
        browser.join(20)
        out["browser"] = browser

        # L's transcoder has played for longer than nginx-rtmp's update interval (10 s).
        def l_played() -> float:
            return time.time() - Transcoder.objects.get(stream=l_stream).started_at.timestamp()

        wait_for(lambda: l_played() > 11, 15, 0.2, what="L past on_update")
        out["l_row_end"] = Transcoder.objects.get(stream=l_stream)
        # Stop L's encoder; rotate P's key: on_update drops P's encoder within 10 s.
        l_pub.send_signal(signal.SIGINT)
        rotated_at = time.monotonic()
        services.rotate_stream_key(stream_id=p.pk)
        try:
            out["p_pub_rc"] = p_pub.wait(20)
        except subprocess.TimeoutExpired:
            out["p_pub_rc"] = None
            p_pub.kill()
        out["p_dropped_after"] = time.monotonic() - rotated_at
        l_pub.wait(15)
        wait_for(lambda: not Transcoder.objects.filter(publishing=True).exists(), 15, 0.1,
                 what="publish done")  # fmt: skip
        wait_for(lambda: not Transcoder.objects.exclude(pid=None).exists(), 15, 0.1,
                 what="transcoders stopped")  # fmt: skip
        out["p_final"] = Stream.objects.get(pk=p.pk)
        out["publishing_left"] = Transcoder.objects.filter(publishing=True).count()
        out["elapsed"] = time.monotonic() - started

    recorder.stop.set()
    edge_recorder.stop.set()
    # Before the first test's flush of the database (see Stack.shutdown).
    stack.shutdown()
    out["recorder"] = recorder
    out["edge_recorder"] = edge_recorder
    return out


def test_the_right_key_opens_the_green_room_and_go_live_makes_it_public(scenario):
    assert scenario["p_event_backstage"] == EventStatus.BACKSTAGE
    assert scenario["p_event_live"] == EventStatus.LIVE


def test_ffprobe_decodes_the_stream_through_the_edge(scenario):
    (video,) = [s for s in scenario["probe_live"]["streams"] if s["codec_type"] == "video"]
    assert (video["width"], video["height"]) == (640, 360)
    assert int(video["nb_read_frames"]) > 0


def test_a_wrong_key_is_refused_by_on_publish(scenario):
    assert scenario["w_wrong_rc"] != 0
    assert "Input/output error" in scenario["w_stderr"]


def test_the_key_from_before_a_rotation_is_refused(scenario):
    assert scenario["w_old_rc"] != 0


def test_refused_publishers_write_nothing(scenario):
    assert scenario["w_files"] == []
    assert scenario["w_transcoder"] is False


def _served(scenario) -> dict[str, str]:
    return {
        f"{name}#{i}": text
        for name in ("recorder", "edge_recorder")
        for i, text in enumerate(next(iter(scenario[name].versions.values())))
    }


def test_every_playlist_served_passes_the_m3u8_parser(scenario):
    texts = _served(scenario)
    assert len(texts) >= 12
    assert hls_checks.m3u8_failures(texts) == []


def test_every_playlist_served_passes_hls_parser_in_strict_mode(scenario):
    assert hls_checks.hls_parser_strict_failures(_served(scenario)) == []


def test_the_origin_playlist_obeys_rfc_8216_across_the_transcoder_restart(scenario):
    versions = next(iter(scenario["recorder"].versions.values()))
    problems = hls_checks.rfc_problems(versions, target=TARGET_DURATION, window=WINDOW_SECONDS)
    assert problems == []


def test_the_playlist_viewers_get_through_the_edge_obeys_rfc_8216(scenario):
    versions = next(iter(scenario["edge_recorder"].versions.values()))
    assert len(versions) >= 4
    problems = hls_checks.rfc_problems(versions, target=TARGET_DURATION, window=WINDOW_SECONDS)
    assert problems == []


def test_the_supervisor_restarts_a_killed_transcoder(scenario):
    row = scenario["p_row_after"]
    assert row.restarts == 1
    assert row.pid != scenario["p_pid_before"]
    assert row.last_error.startswith("ffmpeg exited with -9")


def test_the_restart_is_one_discontinuity_in_the_playlist(scenario):
    versions = next(iter(scenario["recorder"].versions.values()))
    parsed = [hls_checks.parse(v) for v in versions]
    discontinuous = {s.seq for p in parsed for s in p.segments if s.discontinuity}
    assert len(discontinuous) == 1
    (seq,) = discontinuous
    assert scenario["p_published_before_kill"] <= seq <= scenario["p_published_before_kill"] + 3


def test_the_ladder_master_lists_the_copied_source_and_the_encoded_rung(scenario):
    status, _headers, body = scenario["l_master"]
    assert status == 200
    lines = body.decode().splitlines()
    variants = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    uris = [line for line in lines if line and not line.startswith("#")]
    assert uris == ["480p/index.m3u8", "360p/index.m3u8"]
    assert "RESOLUTION=854x480" in variants[0]
    assert "RESOLUTION=640x360" in variants[1]
    bandwidths = [int(v.split("BANDWIDTH=")[1].split(",")[0]) for v in variants]
    assert bandwidths[0] > bandwidths[1]
    assert scenario["l_row"].rungs == "480p (copy), 360p"


def test_ffprobe_reads_both_renditions_from_the_signed_master(scenario):
    videos = [s for s in scenario["l_probe"]["streams"] if s["codec_type"] == "video"]
    assert len(videos) == 2


def test_the_ladder_renditions_have_their_sizes(scenario):
    assert scenario["l_segment_sizes"] == {
        "480p": ("h264", 854, 480), "360p": ("h264", 640, 360)
    }  # fmt: skip


def test_the_ladder_renditions_cut_segments_at_the_same_instants(scenario):
    a, b = (hls_checks.parse(scenario["l_media"][n]) for n in ("480p", "360p"))
    common = sorted({s.seq for s in a.segments} & {s.seq for s in b.segments})
    assert len(common) >= 3
    dur_a = {s.seq: s.duration for s in a.segments}
    dur_b = {s.seq: s.duration for s in b.segments}
    assert [round(dur_a[q], 2) for q in common] == [round(dur_b[q], 2) for q in common]


def test_the_same_segment_of_each_rendition_starts_on_the_same_keyframe(scenario):
    starts = scenario["l_segment_starts"]
    assert starts["480p"]["flags"].startswith("K")
    assert starts["360p"]["flags"].startswith("K")
    assert abs(float(starts["480p"]["pts_time"]) - float(starts["360p"]["pts_time"])) < 0.041


def test_publish_done_stops_the_transcoders_without_ending_the_stream(scenario):
    assert scenario["p_final"].state in ("live", "reconnecting", "stalled")
    assert scenario["publishing_left"] == 0


def test_the_whole_scenario_stays_within_the_time_budget(scenario):
    assert scenario["elapsed"] < 75


def test_a_good_signature_plays_at_the_edge_and_from_django(scenario):
    answers = scenario["signatures"]
    assert answers["edge_good"][0] == 200
    assert answers["django_good"][0] == 200
    assert answers["edge_good"][1].startswith("#EXTM3U")


def test_a_tampered_signature_gets_403_at_the_edge_without_the_origin(scenario):
    answers = scenario["signatures"]
    assert answers["edge_tampered"] == (403, "Forbidden at the edge: bad signature.\n")
    assert answers["edge_tampered_segment"] == (403, "Forbidden at the edge: bad signature.\n")
    assert answers["edge_longer_expiry"] == (403, "Forbidden at the edge: bad signature.\n")


def test_an_expired_signature_gets_403_at_the_edge(scenario):
    assert scenario["signatures"]["edge_expired"] == (403, "Forbidden at the edge: expired.\n")


def test_django_refuses_tampered_and_expired_signatures_when_no_edge_is_in_front(scenario):
    answers = scenario["signatures"]
    assert answers["django_tampered"] == (403, "Forbidden: bad signature.\n")
    assert answers["django_tampered_segment"] == (403, "Forbidden: bad signature.\n")
    assert answers["django_longer_expiry"] == (403, "Forbidden: bad signature.\n")
    assert answers["django_expired"] == (403, "Forbidden: expired.\n")


def test_a_signed_stream_is_refused_without_a_signature_at_the_edge_and_from_django(scenario):
    answers = scenario["signatures"]
    assert answers["edge_unsigned"] == (
        403, "Forbidden at the edge: this stream needs a signed URL.\n"
    )  # fmt: skip
    assert answers["django_unsigned"] == (403, "Forbidden: this stream needs a signed URL.\n")


def test_the_event_page_holds_no_signed_url(scenario):
    assert scenario["signatures"]["page_url"] == (0, "")


@pytest.mark.browser
def test_a_browser_plays_the_stream_through_the_edge_with_hls_js(scenario):
    browser = scenario["browser"]
    assert (browser.failed, browser.fatal) == ("", [])
    assert browser.width == 640
    assert scenario["played_at_kill"] >= 2


@pytest.mark.browser
def test_the_browser_keeps_playing_across_the_transcoder_restart(scenario):
    assert scenario["played_at_end"] >= scenario["played_at_kill"] + 2
    assert scenario["browser"].fatal == []


def test_rotating_the_key_drops_a_connected_encoder_within_the_update_interval(scenario):
    assert scenario["p_pub_rc"] not in (None, 0)
    assert scenario["p_dropped_after"] <= 12


def test_a_transcoder_plays_on_through_nginx_rtmps_periodic_updates(scenario):
    row = scenario["l_row_end"]
    assert (row.restarts, row.last_error) == (0, "")
    assert row.pid is not None
