"""An attendee's event page in headless Chromium against the real platform: the video plays,
the page turns live and then offers the replay by itself, and an attendee past the event's
capacity is told the event is full. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import CapacityTier, Event, EventStatus
from streaming import show
from streaming.models import Stream
from tests.browser import LAPTOP, PHONE
from tests.factories import EventFactory
from tests.liveroom.page.conftest import new_stream
from tests.support import wait_for

pytestmark = pytest.mark.browser

VIDEO = "[data-player-video]"


def player(page) -> dict:
    return page.evaluate("window.Pledgecast.player.state()")


def current_time(page) -> float:
    return page.evaluate(f"document.querySelector('{VIDEO}').currentTime")


def assert_video_advances(page, seconds: float, *, timeout: float = 30) -> None:
    """The video's clock moves on by `seconds` of playback, and the player saw no error."""
    start = wait_for(lambda: current_time(page) or None, timeout, 0.1, what="playback")
    wait_for(lambda: current_time(page) >= start + seconds, timeout, 0.1, what="5 s of video")
    state = player(page)
    assert state["error"] is None, state
    assert page.evaluate(f"document.querySelector('{VIDEO}').error") is None


def live_stream(platform, event: Event) -> Stream:
    """The event's stream with an encoder pushing, and the show live (staff's "Go live")."""
    stream, key = new_stream(event.pk)
    platform.push(stream, key)
    wait_for(lambda: Stream.objects.get(pk=stream.pk).state == "live", 30, what="stream live")
    show.go_live(event_id=event.pk)
    return stream


@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_an_attendee_watches_the_live_video_with_hls_js(platform, browser, screenshot, device):
    event = EventFactory(status=EventStatus.SCHEDULED, title="Rally for the river")
    live_stream(platform, event)
    page = browser.new_page(**(PHONE if device == "phone" else LAPTOP))
    page.goto(platform.url(event.get_absolute_url()))

    assert_video_advances(page, 5)
    state = player(page)
    assert (state["engine"], state["kind"], state["cover"]) == ("hls.js", "live", None)
    # At the live edge the page's status badge alone says "Live" (the player's "Behind live"
    # shows when behind).
    assert page.is_hidden("[data-player-live]")
    assert page.text_content("[data-event-status]") == "Live"
    # The quality menu lists the master playlist's two renditions, best first, after Auto.
    options = page.eval_on_selector_all(
        "[data-player-levels] option", "options => options.map(o => o.value)"
    )
    assert (options[0], sorted(options[1:])) == ("-1", ["0", "1"])
    assert page.is_visible("[data-player-quality]")
    # The video fits the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"live-{device}", full_page=device == "laptop")


def test_jump_to_live_brings_a_paused_attendee_back_to_the_live_edge(platform, browser, screenshot):
    event = EventFactory(status=EventStatus.SCHEDULED)
    live_stream(platform, event)
    page = browser.new_page(**LAPTOP)
    page.goto(platform.url(event.get_absolute_url()))
    assert_video_advances(page, 1)
    page.evaluate(f"document.querySelector('{VIDEO}').pause()")
    page.wait_for_selector("[data-player-golive]:visible", timeout=15_000)
    assert page.text_content("[data-player-live]") == "Behind live"
    screenshot(page, "behind-live")
    page.click("[data-player-golive]")
    page.wait_for_selector("[data-player-golive]", state="hidden", timeout=10_000)
    assert page.is_hidden("[data-player-live]")
    assert_video_advances(page, 1)


@pytest.mark.serial  # the refusal within its deadline: run alone (Makefile)
def test_an_attendee_beyond_the_capacity_sees_the_event_is_full(platform, browser, screenshot):
    tier = CapacityTier.objects.create(name="one seat", max_attendees=1)
    event = EventFactory(status=EventStatus.SCHEDULED, capacity_tier=tier)
    live_stream(platform, event)
    first = browser.new_context(**LAPTOP).new_page()
    first.goto(platform.url(event.get_absolute_url()))
    assert_video_advances(first, 1)

    second = browser.new_context(**PHONE).new_page()
    second.goto(platform.url(event.get_absolute_url()))
    second.wait_for_selector("[data-event-full]:visible", timeout=15_000)
    assert second.text_content("[data-event-full] h2") == "This event is full"
    assert not second.is_visible("[data-player]")
    # Nothing of the video was loaded for the refused attendee.
    assert player(second)["src"] is None
    assert second.evaluate(f"document.querySelector('{VIDEO}').currentTime") == 0
    screenshot(second, "event-is-full-phone")


def test_the_page_counts_down_turns_live_and_then_offers_the_replay_which_plays(
    platform, browser, screenshot
):
    starts = timezone.now() + timedelta(hours=1, minutes=30)
    event = EventFactory(
        status=EventStatus.SCHEDULED, starts_at=starts, ends_at=starts + timedelta(hours=1)
    )
    stream, key = new_stream(event.pk)
    page = browser.new_page(**LAPTOP)
    page.goto(platform.url(event.get_absolute_url()))

    # Before: the countdown in the player's place.
    page.wait_for_selector("[data-cover=before] .countdown:has-text('Starts in')")
    assert page.text_content("[data-cover=before] .countdown").startswith("Starts in 1 hour, 29")
    assert player(page)["cover"] == "before"
    screenshot(page, "before-countdown")

    # The encoder starts and staff go live: the page turns live by itself.
    platform.push(stream, key)
    wait_for(lambda: Stream.objects.get(pk=stream.pk).state == "live", 30, what="video")
    show.go_live(event_id=event.pk)
    page.wait_for_function("() => window.Pledgecast.player.state().kind === 'live'", timeout=30_000)
    # 5 s of the show (the replay leaves out what came before "Go live").
    assert_video_advances(page, 5)
    assert page.text_content("[data-event-status]") == "Live"
    screenshot(page, "turned-live")

    # Staff end the show: "ended — watch the replay", and the replay plays.
    show.end_show(event_id=event.pk)
    page.wait_for_selector("[data-cover=replay]:visible", timeout=40_000)
    assert page.text_content("[data-event-status]") == "Ended"
    assert page.text_content("[data-cover=replay] .cover-title") == "The event has ended"
    screenshot(page, "ended-offers-replay")
    page.click("[data-player-replay]")
    page.wait_for_function("() => window.Pledgecast.player.state().kind === 'replay'")
    assert_video_advances(page, 3)
    assert player(page)["src"].endswith("/replay.m3u8")
    screenshot(page, "replay-playing")
