"""The master playlist says what every variant carries (CODECS, RESOLUTION, BANDWIDTH; RFC
8216 §4.3.4.2), so that players can switch between them: hls.js does not switch up to a
variant without CODECS.

The transcoder's own ffmpeg commands (streaming.ladder, from a probe by
streaming.transcoder) push an H.264 High / AAC source through the real ingest, in real time,
at once (about 8 s): the adaptive ladder, whose top rung is the source copied (ffmpeg's
master gives it no CODECS), and passthrough (one rendition: ffmpeg writes no master)."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from events.models import EventStatus
from streaming import codecs, ffmpeg, ladder, playlists, services, transcoder
from streaming.models import LadderChoice, Stream
from tests.browser import CHROMIUM_ARGS, ROOT, chromium_path, under_ci
from tests.factories import EventFactory
from tests.support import wait_for
from tests.support.streaming import TARGET_DURATION

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE_SECONDS = 8


def _source(path) -> None:
    """An OBS-like recording: 854x480 H.264 High at 25 fps with a keyframe every second, its
    bit rate in the FLV metadata, AAC-LC stereo."""
    proc = ffmpeg.start(ffmpeg.base_command(
        "-f", "lavfi", "-i", "testsrc2=size=854x480:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(SOURCE_SECONDS),
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v", "1000k", "-maxrate", "1000k", "-bufsize", "1000k",
        "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "64k", "-ac", "2", "-f", "flv", str(path),
    ))  # fmt: skip
    assert proc.wait(30) == 0


PLAY = """async url => {
    const video = document.createElement("video");
    video.muted = true;
    document.body.appendChild(video);
    // A viewer with far more bandwidth than the ladder needs (the report's 215 Mbit/s).
    const hls = new Hls({ startLevel: -1, testBandwidth: false,
                          abrEwmaDefaultEstimate: 215e6, abrEwmaDefaultEstimateMax: 215e6 });
    const levels = () => hls.levels.map(l => ({ height: l.height, bitrate: l.bitrate,
                                                codecs: l.attrs.CODECS || "" }));
    return await new Promise(resolve => {
        const buffered = [];
        hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) resolve({ error: d.details }); });
        hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
        hls.on(Hls.Events.FRAG_BUFFERED, (_, d) => {
            if (d.frag.type !== "main") return;
            buffered.push(hls.levels[d.frag.level].height);
            if (buffered.length >= 4) resolve({ levels: levels(), buffered });
        });
        setTimeout(() => resolve({ levels: levels(), buffered }), 15000);
        hls.loadSource(url);
        hls.attachMedia(video);
    });
}"""


def _play(url: str) -> dict | None:
    """What hls.js in headless Chromium made of the live master at `url` (PLAY), or None
    without Chromium."""
    if chromium_path() is None:
        return None
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page()
            page.set_content("<!doctype html><title>player</title>")
            page.add_script_tag(path=str(ROOT / "node_modules" / "hls.js" / "dist" / "hls.min.js"))
            return page.evaluate(PLAY, url)
        finally:
            chromium.close()


def _masters(server, tmp_path) -> dict:
    source_file = tmp_path / "source.flv"
    _source(source_file)
    source = transcoder.probe_head(source_file.read_bytes())
    assert source is not None
    pushes, streams, masters = [], {}, {}
    for choice in (LadderChoice.ADAPTIVE, LadderChoice.PASSTHROUGH):
        # A live show: its playlists are public as soon as they are published.
        stream, key = services.create_stream(event_id=EventFactory(status=EventStatus.LIVE).pk)
        streams[choice] = stream
        cmd = ladder.command(
            ffmpeg=ffmpeg.ffmpeg_path(), input_url=str(source_file), token=key,
            ingest_url=server.ingest_url(stream.public_id),
            outputs=ladder.plan(ladder=choice, source=source), source=source,
            target_duration=TARGET_DURATION,
        )  # fmt: skip
        at = cmd.index("-i")
        cmd[at:at] = ["-re"]  # a file read as the live RTMP stream arrives: in real time
        pushes.append(ffmpeg.start(cmd))
    adaptive = f"/live/{streams[LadderChoice.ADAPTIVE].public_id}/master.m3u8"
    wait_for(lambda: server.get(adaptive)[0] == 200, 10, what="the adaptive master")
    masters["player"] = _play(server.origin + adaptive)
    for push in pushes:
        assert push.wait(SOURCE_SECONDS + 20) == 0
    for choice, stream in streams.items():
        names = [r.name for r in Stream.objects.get(pk=stream.pk).renditions.all()]
        wait_for(
            lambda s=stream, n=names: all(
                server.get(f"/live/{s.public_id}/{name}/index.m3u8")[0] == 200 for name in n
            ),
            10,
            what="the media playlists",
        )
        status, _, body = server.get(f"/live/{stream.public_id}/master.m3u8")
        assert status == 200
        masters[choice] = {
            variant.uri: variant.attributes for variant in playlists.parse_master(body.decode())
        }
        services.end_stream(stream_id=stream.pk)
    return masters


@pytest.fixture(scope="module")
def masters(server, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        return _masters(server, tmp_path_factory.mktemp("codecs"))


def test_the_adaptive_master_lists_codecs_for_the_copied_top_rung_and_the_encoded_one(masters):
    variants = masters[LadderChoice.ADAPTIVE]
    assert {uri: (v.get("CODECS"), v.get("RESOLUTION")) for uri, v in variants.items()} == {
        "480p/index.m3u8": ('"avc1.64001E,mp4a.40.2"', "854x480"),
        "360p/index.m3u8": ('"avc1.4D401E,mp4a.40.2"', "640x360"),
    }


def test_the_passthrough_master_lists_codecs_resolution_and_bandwidth(masters):
    (variant,) = masters[LadderChoice.PASSTHROUGH].values()
    assert (variant["CODECS"], variant["RESOLUTION"]) == ('"avc1.64001E,mp4a.40.2"', "854x480")
    assert int(variant["BANDWIDTH"]) > 500_000


def test_hls_js_sees_codecs_on_every_level_and_plays_the_top_one(masters):
    result = masters["player"]
    if result is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if under_ci():
            pytest.fail(message + ": browser tests must run under CI")
        pytest.skip(message)
    assert "error" not in result, result
    assert sorted((lv["height"], lv["codecs"]) for lv in result["levels"]) == [
        (360, "avc1.4D401E,mp4a.40.2"),
        (480, "avc1.64001E,mp4a.40.2"),
    ]
    # With the bandwidth for it, the player takes the top rung (the copied source; it stayed
    # on 360p while that rung had no CODECS). On a machine too loaded to load fragments in
    # time it may step down afterwards: its buffer rules, not the master.
    assert result["buffered"][0] == 480, result


# --- the codec strings from ffprobe's JSON ------------------------------------------------------


def _hexdump(data: bytes) -> str:
    """ffprobe's -show_data layout: offset, eight groups of two bytes, the ASCII."""
    lines = []
    for offset in range(0, len(data), 16):
        row = data[offset : offset + 16].hex()
        groups = " ".join(row[i : i + 4] for i in range(0, len(row), 4))
        lines.append(f"{offset:08x}: {groups:<40}  ................")
    return "\n" + "\n".join(lines) + "\n"


def test_an_avcc_record_gives_the_profile_constraints_and_level_it_holds():
    stream = {"codec_type": "video", "codec_name": "h264", "profile": "Main", "level": 31,
              "extradata": _hexdump(bytes.fromhex("014d401fffe1001967"))}  # fmt: skip
    assert codecs.video_codec(stream) == "avc1.4D401F"


def test_annex_b_parameter_sets_give_the_sps_bytes():
    sps = bytes.fromhex("000000016742c01eda0000000168ce0fc8")
    stream = {"codec_type": "video", "codec_name": "h264", "profile": "Constrained Baseline",
              "level": 30, "extradata": _hexdump(sps)}  # fmt: skip
    assert codecs.video_codec(stream) == "avc1.42C01E"


def test_without_parameter_sets_the_profile_name_and_level_are_used():
    stream = {"codec_type": "video", "codec_name": "h264", "profile": "High", "level": 40}
    assert codecs.video_codec(stream) == "avc1.640028"


def test_an_unknown_codec_leaves_codecs_out_rather_than_listing_part_of_them():
    probe = {"streams": [
        {"codec_type": "video", "codec_name": "h264", "profile": "High", "level": 31,
         "width": 1280, "height": 720},
        {"codec_type": "audio", "codec_name": "opus"},
    ]}  # fmt: skip
    assert codecs.attributes_from_probe(probe) == {"RESOLUTION": "1280x720"}


def test_he_aac_and_aac_lc_get_their_object_types():
    assert codecs.audio_codec({"codec_name": "aac", "profile": "LC"}) == "mp4a.40.2"
    assert codecs.audio_codec({"codec_name": "aac", "profile": "HE-AAC"}) == "mp4a.40.5"
