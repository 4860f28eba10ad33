"""Live captions through the playlist writer: a captioner's lines (CART) become WebVTT cues in
the first segment published after they arrived, in a subtitle rendition listed by the master
(EXT-X-MEDIA, SUBTITLES= on every variant) whose segments follow the anchor rendition's
numbers and times, each mapped to its media's MPEG-TS timestamps; the replay keeps them. Bad
keys and bad posts are refused and store nothing."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import timedelta

import pytest
from django.urls import reverse

from streaming import ffmpeg, playlists, services, signing
from streaming.captions import cues, rendition, webvtt
from streaming.models import CaptionCue, CaptionMode, Rendition, Stream
from streaming.storage import get_storage
from tests.factories import EventFactory
from tests.support.streaming import encoder_playlist, served

pytestmark = pytest.mark.django_db

URL = "streaming:captions_cart"


@pytest.fixture(scope="module")
def ts_segments(tmp_path_factory) -> list[bytes]:
    """Three real 1-second MPEG-TS segments (H.264 and AAC), as an encoder cuts them."""
    folder = tmp_path_factory.mktemp("ts")
    subprocess.run(
        ffmpeg.base_command(
            "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25",
            "-sc_threshold", "0", "-c:a", "aac", "-f", "segment", "-segment_time", "1",
            "-segment_format", "mpegts", str(folder / "s%d.ts"),
        ),
        check=True, timeout=60,
    )  # fmt: skip
    return [(folder / f"s{n}.ts").read_bytes() for n in range(3)]


def _deliver(stream: Stream, ts_segments: list[bytes], first: int, count: int) -> None:
    """The encoder's PUTs of real segments `first…` (rendition "v"), then its playlist."""
    storage = get_storage()
    for seq in range(first, first + count):
        storage.put(f"ingest/{stream.public_id}/seg{seq}.ts", ts_segments[seq % 3])
    services.receive_playlist(
        stream_id=stream.pk, name="v.m3u8", text=encoder_playlist(first, count)
    )


@pytest.fixture
def captioned(stream, ts_segments) -> tuple[Stream, str]:
    """The shared stream with CART captions on, receiving (segments 0 and 1), and its
    caption key."""
    Stream.objects.filter(pk=stream.pk).update(captions=CaptionMode.CART)
    key = cues.rotate_caption_key(stream_id=stream.pk)
    _deliver(stream, ts_segments, 0, 2)
    stream.refresh_from_db()
    return stream, key


def _post(client, stream, body: bytes, key: str | None, **headers):
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.post(
        reverse(URL, args=[stream.public_id]), body, content_type="text/plain", **headers
    )


def test_the_first_pts_of_a_segment_is_what_ffprobe_reads(ts_segments, tmp_path):
    for n, data in enumerate(ts_segments):
        path = tmp_path / f"{n}.ts"
        path.write_bytes(data)
        probe = ffmpeg.probe(str(path), "-show_entries", "format=start_time")
        assert webvtt.first_pts(data) == round(float(probe["format"]["start_time"]) * 90_000)
    assert webvtt.first_pts(b"\x00" * 1000) is None


def test_a_cart_line_lands_in_the_first_segment_published_after_it(client, captioned,
                                                                   ts_segments):  # fmt: skip
    stream, key = captioned
    anchor = Rendition.objects.get(stream=stream, name="v")
    response = _post(client, stream, b"Thank you all for joining us tonight.\n", key)
    assert response.status_code == 201, response.content
    (cue,) = CaptionCue.objects.filter(stream=stream)
    assert cue.start == anchor.next_pdt  # the start of segment 2, not yet published
    _deliver(stream, ts_segments, 2, 1)

    vtt = served(stream, "captions/2.vtt")
    segment = anchor.segments.get(seq=2)
    zero = rendition.epoch(stream)
    local = (segment.program_date_time - zero).total_seconds()
    start = (cue.start - zero).total_seconds()
    assert vtt == (
        "WEBVTT\n"
        f"X-TIMESTAMP-MAP=MPEGTS:{webvtt.first_pts(ts_segments[2])},"
        f"LOCAL:{webvtt.timestamp(local)}\n\n"
        f"{webvtt.timestamp(start)} --> {webvtt.timestamp(start + cues.cue_seconds(cue.text))}\n"
        "Thank you all for joining us tonight.\n"
    )
    # Segments published before the line have none of it.
    assert "Thank you" not in served(stream, "captions/1.vtt")


def test_the_caption_rendition_follows_the_anchor_and_the_master_lists_it(captioned,
                                                                          ts_segments):  # fmt: skip
    stream, _ = captioned
    _deliver(stream, ts_segments, 2, 3)
    media = served(stream)
    captions = served(stream, "captions/index.m3u8")
    assert re.sub(r"(\d+)\.ts", r"\1.vtt", media) == captions
    master = served(stream, "master.m3u8")
    assert master.splitlines()[:3] == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="cc",NAME="English (live captions)",'
        'LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="captions/index.m3u8"',
    ]
    (variant,) = playlists.parse_master(master)
    assert 'SUBTITLES="cc"' in master.splitlines()[3]
    assert variant.uri == "v/index.m3u8"


def test_the_replay_keeps_the_captions(client, captioned, ts_segments):
    stream, key = captioned
    assert _post(client, stream, b"Every gift helps.", key).status_code == 201
    _deliver(stream, ts_segments, 2, 2)
    services.end_stream(stream_id=stream.pk)
    replay_master = served(stream, "replay.m3u8")
    assert 'URI="captions/replay.m3u8"' in replay_master
    replay = served(stream, "captions/replay.m3u8")
    assert [line for line in replay.splitlines() if line.endswith(".vtt")] == [
        "0.vtt", "1.vtt", "2.vtt", "3.vtt",
    ]  # fmt: skip
    assert "#EXT-X-ENDLIST" in replay
    assert "Every gift helps." in served(stream, "captions/2.vtt")


def test_the_origin_serves_caption_segments_as_text_vtt(client, captioned):
    stream, _ = captioned
    # Before the show only staff's signed URLs play it.
    path = signing.playback_path(public_id=stream.public_id, path="captions/1.vtt", signed=True)
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"x" * 4097, "Too large: at most 4096 bytes"),
        (b"\xff\xfe caption", "Captions are UTF-8 text."),
        (b"   \n\n", "No caption text"),
        (b"\n".join([b"line"] * 9), "At most 8 lines per post."),
        (b"y" * 121, "A line is at most 120 characters."),
        (b"tab\there", "no control characters"),
    ],
)
def test_a_malformed_or_oversized_post_is_refused(client, captioned, body, message):
    stream, key = captioned
    response = _post(client, stream, body, key)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not CaptionCue.objects.exists()


def test_a_wrong_missing_or_rotated_key_is_refused(client, captioned):
    stream, key = captioned
    for given in ("ck_wrong", "", None, services.hash_key(key)):
        response = _post(client, stream, b"Hello", given)
        assert response.status_code == 403
        assert response.json() == {"error": "Wrong caption key."}
    cues.rotate_caption_key(stream_id=stream.pk)
    assert _post(client, stream, b"Hello", key).status_code == 403
    # The stream key is not a caption key.
    other, stream_key = services.create_stream(event_id=EventFactory(status="scheduled").pk)
    Stream.objects.filter(pk=other.pk).update(captions=CaptionMode.CART)
    assert _post(client, other, b"Hello", stream_key).status_code == 403
    assert not CaptionCue.objects.exists()


def test_captions_off_or_no_video_arriving_is_a_conflict(client, captioned):
    stream, key = captioned
    Stream.objects.filter(pk=stream.pk).update(state="reconnecting")
    response = _post(client, stream, b"Hello", key)
    assert (response.status_code, response.json()["error"]) == (
        409, "No video is arriving: captions are taken while it does.",
    )  # fmt: skip
    Stream.objects.filter(pk=stream.pk).update(captions=CaptionMode.OFF, state="live")
    response = _post(client, stream, b"Hello", key)
    assert response.status_code == 409
    assert "off" in response.json()["error"]
    assert not CaptionCue.objects.exists()


def test_lines_of_one_post_follow_each_other_two_lines_a_cue(client, captioned):
    stream, key = captioned
    body = (
        b"One two three.\nFour five.\nSix seven eight nine ten eleven twelve\n"
        b"thirteen fourteen fifteen sixteen seventeen eighteen."
    )
    response = _post(client, stream, body, key)
    assert json.loads(response.content)["cues"] == 2
    first, second = CaptionCue.objects.filter(stream=stream)
    assert first.text == "One two three.\nFour five."
    assert second.start == first.end
    assert second.end - second.start == timedelta(seconds=cues.MAX_CUE_SECONDS)


def test_an_encoder_cannot_push_a_rendition_named_like_the_captions(stream):
    with pytest.raises(playlists.PlaylistError, match="a name of ours"):
        services.receive_playlist(
            stream_id=stream.pk, name="captions.m3u8", text=encoder_playlist(0, 1)
        )


def test_cue_text_is_text_in_webvtt():
    text = webvtt.render_segment(
        mpegts=900, local=1.0, cues=[webvtt.Cue(1.0, 3.0, "a <b>bold</b> & --> claim")]
    )
    assert "a &lt;b&gt;bold&lt;/b&gt; &amp; --&gt; claim" in text


def test_staff_turn_captions_on_and_get_a_caption_key_shown_once(manager, stream, ts_segments):
    _deliver(stream, ts_segments, 0, 1)
    response = manager.post(
        reverse("admin:streaming_stream_change", args=[stream.pk]),
        {"relay_url": "", "ladder": stream.ladder, "captions": "cart"},
    )
    assert response.status_code == 302
    stream.refresh_from_db()
    assert stream.captions == CaptionMode.CART
    page = manager.get(reverse("admin:streaming_stream_change", args=[stream.pk]))
    assert "New caption key" in page.content.decode()
    response = manager.post(reverse("admin:streaming_stream_caption_key", args=[stream.pk]))
    assert "no-store" in response["Cache-Control"]
    key = re.search(r'id="caption-key" [^>]*value="(ck_[^"]+)"', response.content.decode())[1]
    stream.refresh_from_db()
    assert stream.caption_key_hash == services.hash_key(key)
    assert (
        key
        not in manager.get(
            reverse("admin:streaming_stream_change", args=[stream.pk])
        ).content.decode()
    )
    # The next segment anchors the captions; the master lists them from then on.
    _deliver(stream, ts_segments, 1, 1)
    assert "TYPE=SUBTITLES" in served(stream, "master.m3u8")
