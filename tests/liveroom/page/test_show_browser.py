"""The show in headless Chromium against the real platform (issue: the show apart from its
stream): the green room's preview for staff while the public page counts down; "Go live"
turning an open public page live without a reload; the encoder killed (SIGKILL) and then
stopped cleanly (ENDLIST), each restarted 20 s later with the same key, while the public page
says "Reconnecting…" and never "ended", and plays on; "End show"; a gift on the replay page
counted after the show."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from donations.models import Donation
from events.models import Event, EventStatus
from streaming.models import Stream
from tests.browser import LAPTOP
from tests.factories import EventFactory
from tests.liveroom.page.conftest import new_stream
from tests.liveroom.page.test_event_page import assert_video_advances, player
from tests.liveroom.page.test_event_page_donations import give
from tests.support import wait_for

pytestmark = pytest.mark.browser

GAP_S = 20  # how long the encoder stays away before it comes back


def _preview_time(page) -> float:
    return page.evaluate("document.querySelector('[data-preview]').currentTime")


class CoverWatch:
    """Every cover the public page showed, sampled from the player's state."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.seen: list[str | None] = []

    def sample(self) -> str | None:
        cover = player(self.page)["cover"]
        self.seen.append(cover)
        return cover

    def until(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.sample()):
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; covers seen: {set(self.seen)}")

    def hold(self, seconds: float) -> None:
        """Sample for `seconds` (the encoder is away)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sample()
            time.sleep(0.2)


def _encoder_gone_and_back(platform, stream, key, encoder, *, how: signal.Signals, watch):
    encoder.send_signal(how)
    encoder.wait(timeout=15)
    watch.until(lambda cover: cover == "reconnecting", 20, "Reconnecting…")
    assert "Reconnecting" in watch.page.text_content("[data-cover=reconnecting]")
    watch.hold(GAP_S)
    assert Event.objects.get(pk=stream.event_id).status == EventStatus.LIVE
    again = platform.push(stream, key)  # the same key, 20 s later
    wait_for(lambda: Stream.objects.get(pk=stream.pk).state == "live", 30, what="uploads again")
    watch.until(lambda cover: cover is None, 30, "the video back")
    assert_video_advances(watch.page, 3)
    return again


def test_the_show_survives_its_encoder_from_green_room_to_replay(platform, browser, screenshot):
    event = EventFactory(
        status=EventStatus.SCHEDULED, title="Election-eve call", goal_minor=5_000_000
    )
    stream, key = new_stream(event.pk)
    public = browser.new_context(**LAPTOP).new_page()
    public.goto(platform.url(event.get_absolute_url()))
    public.wait_for_selector("[data-live-room][data-version]")

    # The green room: video arrives, staff see it, the public page still counts down.
    encoder = platform.push(stream, key)
    wait_for(lambda: Event.objects.get(pk=event.pk).status == EventStatus.BACKSTAGE, 30,
             what="backstage")  # fmt: skip
    staff = platform.staff_dashboard(browser, event)
    staff.on("dialog", lambda dialog: dialog.accept())  # "Go live now?"
    wait_for(lambda: _preview_time(staff) > 2, 30, what="the preview playing")
    assert staff.is_visible("[data-show-action=go-live]")
    screenshot(staff, "green-room")
    assert player(public)["cover"] == "before"
    assert public.text_content("[data-event-status]") == "Scheduled"
    screenshot(public, "public-counts-down-while-backstage")

    # "Go live": the open public page turns live without a reload.
    staff.click("[data-show-action=go-live]")
    staff.wait_for_selector("[data-show-action=end]")
    public.wait_for_function("() => window.Pledgecast.player.state().kind === 'live'",
                             timeout=30_000)  # fmt: skip
    assert_video_advances(public, 3)
    assert public.text_content("[data-event-status]") == "Live"

    # The encoder killed, then stopped cleanly (ENDLIST): each back 20 s later, same key.
    watch = CoverWatch(public)
    encoder = _encoder_gone_and_back(platform, stream, key, encoder, how=signal.SIGKILL,
                                     watch=watch)  # fmt: skip
    screenshot(public, "playing-after-sigkill")
    encoder = _encoder_gone_and_back(platform, stream, key, encoder, how=signal.SIGTERM,
                                     watch=watch)  # fmt: skip
    assert "ended" not in watch.seen
    assert "replay" not in watch.seen
    assert Event.objects.get(pk=event.pk).status == EventStatus.LIVE
    screenshot(public, "playing-after-endlist")

    # "End show": the public page offers the replay; giving goes on after the show.
    staff.click("[data-show-action=end]")
    staff.wait_for_selector("[data-show-action=resume]")
    public.wait_for_selector("[data-cover=replay]:visible", timeout=40_000)
    assert public.text_content("[data-event-status]") == "Ended"
    replay = browser.new_context(**LAPTOP).new_page()
    replay.goto(platform.url(event.get_absolute_url()))
    assert replay.is_visible("[data-donate-next]")  # the donate panel's first step
    give(replay, amount_minor=2_500, display_name="After-party")
    wait_for(lambda: Donation.objects.filter(event=event, status="succeeded").exists(), 15,
             what="the late gift")  # fmt: skip
    replay.wait_for_function(
        "() => document.querySelector('[data-live=\"raised\"]').textContent === '$25'",
        timeout=20_000,
    )
    staff.wait_for_function(
        "() => document.querySelector('[data-dash=\"after-show\"]').textContent === '$25'",
        timeout=20_000,
    )
    screenshot(staff, "after-the-show")
