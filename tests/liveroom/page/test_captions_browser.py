"""Live captions on the event page in headless Chromium: a stream with captions on offers a
CC button (aria-pressed) once hls.js found the subtitle track; pressed, the captioner's
line posted over CART shows as a cue of the video's text track."""

from __future__ import annotations

import http.client
import json

import pytest

from events.models import EventStatus
from streaming import show
from streaming.captions import cues
from streaming.models import CaptionMode, Stream
from tests.browser import LAPTOP
from tests.factories import EventFactory
from tests.liveroom.page.conftest import new_stream
from tests.liveroom.page.test_event_page import VIDEO, assert_video_advances, player
from tests.support import wait_for

pytestmark = pytest.mark.browser

LINE = "Thank you all for joining us tonight."
SHOWN_CUE = f"""() => Array.from(document.querySelector('{VIDEO}').textTracks).some(track =>
    track.mode === 'showing' && Array.from(track.cues || []).some(cue =>
        cue.text.includes('joining us tonight')))"""


def _post_caption(platform, stream: Stream, key: str, text: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", platform.web.port, timeout=10)
    try:
        conn.request(
            "POST", f"/streaming/captions/{stream.public_id}", body=text.encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "text/plain"},
        )  # fmt: skip
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_an_attendee_turns_captions_on_and_reads_the_captioners_line(platform, browser, screenshot):
    event = EventFactory(status=EventStatus.SCHEDULED, title="Captioned town hall")
    stream, key = new_stream(event.pk)
    Stream.objects.filter(pk=stream.pk).update(captions=CaptionMode.CART)
    caption_key = cues.rotate_caption_key(stream_id=stream.pk)
    platform.push(stream, key)
    wait_for(lambda: Stream.objects.get(pk=stream.pk).state == "live", 30, what="stream live")
    show.go_live(event_id=event.pk)

    page = browser.new_page(**LAPTOP)
    page.goto(platform.url(event.get_absolute_url()))
    assert_video_advances(page, 1)
    page.wait_for_selector("[data-player-cc]:visible", timeout=15_000)
    assert page.get_attribute("[data-player-cc]", "aria-pressed") == "false"
    assert player(page)["subtitleTracks"] == 1
    page.click("[data-player-cc]")
    assert page.get_attribute("[data-player-cc]", "aria-pressed") == "true"

    status, answer = _post_caption(platform, stream, caption_key, LINE)
    assert (status, answer["cues"]) == (201, 1)
    page.wait_for_function(SHOWN_CUE, timeout=30_000)
    screenshot(page, "captions-on")
    assert player(page)["captions"] is True
    assert player(page)["error"] is None

    page.click("[data-player-cc]")
    assert page.get_attribute("[data-player-cc]", "aria-pressed") == "false"
    assert page.evaluate(
        f"() => Array.from(document.querySelector('{VIDEO}').textTracks)"
        ".every(track => track.mode !== 'showing')"
    )
