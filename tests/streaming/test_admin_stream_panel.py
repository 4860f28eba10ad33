"""The stream's panel on the event's admin page (added by streaming's admin: events imports
nothing of streaming) and the one-time key page's encoder help: OBS's fields and ffmpeg lines
for a file and a camera, the file's line run for real against a live server."""

from __future__ import annotations

import hashlib
import html
import logging
import os
import re
import shlex
import signal
import subprocess

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import EventStatus
from streaming import ffmpeg, health, selectors, signing
from streaming.models import Segment, Stream
from tests.factories import EventFactory
from tests.support import wait_for
from tests.support.streaming import TARGET_DURATION

pytestmark = pytest.mark.django_db

RTMP_PUBLIC_URL = "rtmp://ingest.example.org:1935/live"
SITE_URL = "https://pledge.example.org"
WARNING = '<strong class="errornote" style="display: inline; padding: 2px 6px;">'


@pytest.fixture
def public_urls(settings):
    settings.RTMP_PUBLIC_URL = RTMP_PUBLIC_URL
    settings.SITE_URL = SITE_URL
    return settings


def event_page(client, event) -> tuple[int, str]:
    response = client.get(reverse("admin:events_event_change", args=[event.pk]))
    return response.status_code, response.content.decode()


def panel(page: str) -> str:
    """The stream panel's HTML (up to the event's form)."""
    start = page.index('id="stream-panel"')
    return page[start : page.index('id="event_form"', start)]


def shown_key(page: str) -> str:
    return re.search(r'id="stream-key" type="text" readonly value="(sk_[^"]+)"', page)[1]


def shell_lines(page: str) -> list[str]:
    """The ffmpeg lines of the key page, as a terminal gets them when pasted."""
    blocks = re.findall(r'<pre class="ffmpeg-line"[^>]*>(.*?)</pre>', page, re.S)
    return [html.unescape(block).replace("\\\n", " ") for block in blocks]


def rotate_url(stream: Stream) -> str:
    return reverse("admin:streaming_stream_rotate_key", args=[stream.pk])


def test_a_manager_sees_where_to_send_obs_settings_and_the_state(manager, stream, public_urls):
    status, page = event_page(manager, stream.event)
    text = panel(page)
    assert status == 200
    assert f"<code>{RTMP_PUBLIC_URL}</code>" in text
    assert f"<code>{stream.public_id}?key=&lt;stream key&gt;</code>" in text
    assert f"<code>{SITE_URL}/streaming/ingest/{stream.public_id}/</code>" in text
    for name, value in [
        ("Keyframe Interval", f"{TARGET_DURATION} s (the segment length)"),
        ("Rate Control", "CBR"),
        ("Bitrate", "2800 Kbps"),
        ("CPU Usage Preset", "veryfast"),
        ("Audio Bitrate", "128 Kbps (AAC)"),
        ("Sample Rate", "48 kHz"),
        ("Output (Scaled) Resolution", "1280x720"),
    ]:
        assert f'<th style="width: 16em;">{name}</th><td>{value}</td>' in text
    assert "Waiting for the encoder" in text
    assert f'action="{rotate_url(stream)}"' in text
    assert ">Rotate key</button>" in text


def test_the_panel_shows_the_health_of_a_live_stream(manager, live_stream):
    text = panel(event_page(manager, live_stream.event)[1])
    assert '<th style="width: 14em;">Stream state</th><td>Receiving</td>' in text
    assert '<th style="width: 14em;">Ingest</th><td>HLS push</td>' in text
    assert "(2 segments)" in text
    # Rotating now drops the encoder: the button asks first.
    assert "data-confirm=" in text


def test_the_panel_shows_the_encoders_figures_and_their_warnings(manager, live_stream):
    figures = health.StreamHealth(
        measured_at=timezone.now(), rendition="v", renditions=1, target_duration_s=1,
        segments=4, duration_s=4.0, total_kbps=4200, video_kbps=4000, video_codec="h264",
        width=1920, height=1080, fps=30.0, keyframe_interval_s=4.0,
        keyframe_interval_at_least=False, audio_codec="aac", audio_sample_rate=48000,
        audio_channels=2, av_drift_ms=0, warnings=("Keyframe interval 4 s: set it to 1 s.",),
    )  # fmt: skip
    live_stream.health, live_stream.health_at = figures.to_json(), timezone.now()
    live_stream.save(update_fields=["health", "health_at"])
    text = panel(event_page(manager, live_stream.event)[1])
    for row in health.rows(figures):
        value = html.escape(row.value)
        if row.warning:
            value = f"{WARNING}{value}</strong>"
        assert f'<th style="width: 14em;">{row.label}</th><td>{value}</td>' in text
    assert f"{WARNING}Keyframe interval 4 s: set it to 1 s.</strong>" in text


@pytest.mark.parametrize("figures", [{"v": 2, "width": 1}, {"v": 1, "width": {}}, [], "x"])
def test_figures_of_another_shape_are_left_out(manager, live_stream, figures):
    Stream.objects.filter(pk=live_stream.pk).update(health=figures, health_at=timezone.now())
    status, page = event_page(manager, live_stream.event)
    assert status == 200
    assert "Video</th>" not in panel(page)


def test_a_viewer_sees_the_panel_without_the_button_and_cannot_rotate(
    client, campaign, staff_factory, stream, public_urls
):
    client.force_login(staff_factory(campaign, role="viewer"))
    before = stream.key_hash
    status, page = event_page(client, stream.event)
    response = client.post(rotate_url(stream))
    stream.refresh_from_db()
    assert status == 200
    assert f"<code>{RTMP_PUBLIC_URL}</code>" in panel(page)
    assert "Rotate key" not in page
    assert rotate_url(stream) not in page
    assert (response.status_code, stream.key_hash) == (403, before)


def test_another_campaigns_staff_get_a_404(client, staff_factory, stream):
    client.force_login(staff_factory(EventFactory().campaign, role="owner"))
    before = stream.key_hash
    status, _ = event_page(client, stream.event)
    response = client.post(rotate_url(stream))
    stream.refresh_from_db()
    assert (status, response.status_code, stream.key_hash) == (404, 404, before)


def test_an_event_without_a_stream_offers_a_manager_to_create_one(manager, scheduled_event):
    text = panel(event_page(manager, scheduled_event)[1])
    create = f"{reverse('admin:streaming_stream_add')}?event={scheduled_event.pk}"
    form = manager.get(create)
    assert "This event has no stream yet." in text
    assert f'href="{create}"' in text
    assert form.context["adminform"].form.initial["event"] == str(scheduled_event.pk)


def test_a_viewer_is_not_offered_to_create_a_stream(client, campaign, staff_factory):
    client.force_login(staff_factory(campaign, role="viewer"))
    event = EventFactory(campaign=campaign, status=EventStatus.SCHEDULED)
    text = panel(event_page(client, event)[1])
    assert "This event has no stream yet." in text
    assert "Create the stream" not in text


def test_rotating_from_the_panel_shows_the_key_once_and_logs_it_nowhere(
    manager, stream_and_key, public_urls, caplog
):
    caplog.set_level(logging.DEBUG)
    stream, old_key = stream_and_key
    response = manager.post(rotate_url(stream))
    page = response.content.decode()
    key = shown_key(page)
    stream.refresh_from_db()
    _, after = event_page(manager, stream.event)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert key != old_key
    assert stream.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert f'href="{reverse("admin:events_event_change", args=[stream.event_id])}"' in page
    assert f'value="{RTMP_PUBLIC_URL}"' in page
    assert f'value="{stream.public_id}?key={key}"' in page
    assert key not in after
    assert key not in caplog.text
    assert "stream key rotated" in caplog.text  # the log was listened to


def test_the_old_key_stops_working_for_ingest_and_the_new_one_works(manager, stream_and_key):
    stream, old_key = stream_and_key
    key = shown_key(manager.post(rotate_url(stream)).content.decode())
    with pytest.raises(selectors.IngestRefused) as refused:
        selectors.access_stream_for_ingest(
            public_id=stream.public_id, authorization=f"Bearer {old_key}"
        )
    accepted = selectors.access_stream_for_ingest(
        public_id=stream.public_id, authorization=f"Bearer {key}"
    )
    assert (refused.value.status, accepted) == (403, stream)


def test_the_key_page_gives_ffmpeg_lines_for_a_file_and_a_camera_both_ways(
    manager, stream, public_urls
):
    page = manager.post(rotate_url(stream)).content.decode()
    key = shown_key(page)
    lines = shell_lines(page)
    rtmp = f"{RTMP_PUBLIC_URL}/{stream.public_id}?key={key}"
    ingest = f"{SITE_URL}/streaming/ingest/{stream.public_id}"
    sources = [
        ["-re", "-stream_loop", "-1", "-i", "show.mp4"],
        ["-f", "v4l2", "-framerate", "30", "-video_size", "1280x720", "-i", "/dev/video0",
         "-f", "alsa", "-i", "default"],
        ["-f", "avfoundation", "-framerate", "30", "-video_size", "1280x720", "-i", "0:0"],
    ]  # fmt: skip
    gop = str(30 * TARGET_DURATION)
    keyframes = ["-r", "30", "-fps_mode", "cfr", "-g", gop, "-keyint_min", gop,
                 "-sc_threshold", "0"]  # fmt: skip
    audio = ["-c:a", "aac", "-b:a", "128k", "-ar", "48000"]
    argvs = [shlex.split(line) for line in lines]
    assert len(argvs) == 2 * len(sources) + 1  # and the test pattern
    pairs = zip(argvs[0::2], argvs[1::2], strict=False)
    for source, (over_rtmp, hls_push) in zip(sources, pairs, strict=False):
        for argv in (over_rtmp, hls_push):
            assert argv[0] == "ffmpeg"
            assert contains(argv, source)
            assert contains(argv, keyframes)
            assert contains(argv, audio)
        assert over_rtmp[-3:] == ["-f", "flv", rtmp]
        assert contains(hls_push, ["-method", "PUT"])
        assert contains(hls_push, ["-headers", f"Authorization: Bearer {key}"])
        assert hls_push[-1] == f"{ingest}/stream.m3u8"
    assert argvs[-1][-1] == f"{ingest}/stream.m3u8"


def contains(argv: list[str], part: list[str]) -> bool:
    return any(argv[i : i + len(part)] == part for i in range(len(argv)))


@pytest.mark.django_db(transaction=True)
def test_the_file_line_of_the_key_page_streams_to_a_live_server(
    manager, stream_and_key, server, settings, show_file
):
    settings.SITE_URL = server.origin
    stream, old_key = stream_and_key
    page = manager.post(rotate_url(stream)).content.decode()
    hls_push = shlex.split(shell_lines(page)[1])
    argv = [ffmpeg.ffmpeg_path(), "-nostdin", "-loglevel", "error", *hls_push[1:]]
    argv[argv.index("show.mp4")] = show_file
    refused, _ = server.raw(
        "PUT", f"/streaming/ingest/{stream.public_id}/seg_00000.ts", b"\x47" * 188,
        {"Authorization": f"Bearer {old_key}"},
    )  # fmt: skip
    proc = ffmpeg.start(argv, stderr=subprocess.PIPE)
    try:
        wait_for(
            # The 2-second file starts over twice within these five segments.
            lambda: Segment.objects.filter(rendition__stream=stream).count() >= 5,
            30, 0.2, what="five segments published",
        )  # fmt: skip
        # Before the show only staff see the video (the green room's signed preview).
        playlist = signing.playback_path(
            public_id=stream.public_id, path="stream/index.m3u8", signed=True
        )
        status, _, body = server.get(playlist)
        running = proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        _, errors = proc.communicate(timeout=10)
    stream.refresh_from_db()
    assert refused == 403
    assert running, errors.decode()
    assert (stream.state, stream.last_error) == ("live", "")
    assert status == 200
    assert body.decode().count("#EXTINF:") >= 3  # the window: 3 target durations
    # Every segment within the target duration: one keyframe per segment, as the line says.
    durations = Segment.objects.filter(rendition__stream=stream).values_list("duration", flat=True)
    assert all(round(d) <= TARGET_DURATION for d in durations)
