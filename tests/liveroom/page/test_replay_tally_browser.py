"""The replay's tally in headless Chromium: a replay with gifts at known moments of the show
(and one before it, one after it); as the replay plays, the thermometer and the ticker show
what they read at the playhead, "raised since" beside them, and the ask that was on screen."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engagement.models import Ask
from events.models import Event, EventStatus
from streaming import show
from streaming.models import Segment, Stream
from tests.axe import assert_accessible
from tests.browser import LAPTOP
from tests.factories import EventFactory
from tests.liveroom.page.conftest import new_stream
from tests.liveroom.test_dashboard import give
from tests.support import wait_for

pytestmark = pytest.mark.browser

SHOWS = """([raised, since, percent]) =>
    document.querySelector('[data-live="raised"]').textContent === raised &&
    document.querySelector('[data-live="since"]').textContent === since &&
    document.querySelector('[data-live="percent"]').textContent === percent &&
    !document.querySelector('[data-live="moment"]').hidden"""
TICKER = """() => Array.from(document.querySelectorAll('[data-live="ticker"] .live-name'))
    .map(node => node.textContent)"""


def _replay_dates(stream: Stream, went_live_at):
    """The program date-times of the replay's segments (its first rendition)."""
    return list(
        Segment.objects.filter(rendition__stream=stream, published_at__gte=went_live_at)
        .order_by("rendition__name", "seq")
        .values_list("rendition__name", "program_date_time")
    )


def test_the_replays_thermometer_shows_the_moments_tally_while_it_plays(
    platform, browser, screenshot
):
    event = EventFactory(status=EventStatus.SCHEDULED, title="Replay night", goal_minor=100_000)
    stream, key = new_stream(event.pk)
    platform.push(stream, key, seconds=20)
    wait_for(lambda: Stream.objects.get(pk=stream.pk).state == "live", 30, what="stream live")
    went_live_at = show.go_live(event_id=event.pk).went_live_at
    wait_for(lambda: len(_replay_dates(stream, went_live_at)) >= 2 * 14, 40, what="14 s of show")
    show.end_show(event_id=event.pk)
    assert Event.objects.get(pk=event.pk).status == EventStatus.ENDED

    rows = _replay_dates(stream, went_live_at)
    dates = [date for name, date in rows if name == rows[0][0]]
    first = dates[0]
    # A bucket boundary (5 s, on the epoch) at least 6 s into the replay: the gift in it
    # moves the tally there, not sooner.
    boundary = (int(first.timestamp()) // 5 + 2) * 5
    moved = first + timedelta(seconds=boundary - first.timestamp())
    assert dates[-1] - moved >= timedelta(seconds=3)
    in_ticker = {"ticker_opt_in": True}
    # before the show: $100; in the show: $250; on the replay page, today: $1,000
    give(event, amount=10_000, at=first - timedelta(hours=1), display_name="Early", **in_ticker)
    give(event, amount=25_000, at=moved + timedelta(milliseconds=100), display_name="Stage",
         **in_ticker)  # fmt: skip
    give(event, amount=100_000, display_name="Today", **in_ticker)
    Ask.objects.create(
        event=event, text="Give $250 tonight", amount_minor=25_000, tag="tonight",
        pinned=False, pinned_at=moved, unpinned_at=dates[-1] + timedelta(minutes=1),
    )  # fmt: skip

    page = browser.new_page(**LAPTOP)
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_selector("[data-cover=replay]:visible", timeout=20_000)
    page.click("[data-player-replay]")

    # Its beginning: $100 of the $1,000 goal; $1,250 given since (today: $1,350).
    page.wait_for_function(SHOWS, arg=["$100", "$1,250", "10%"], timeout=30_000)
    assert page.is_hidden("[data-live='moment-ask']")
    assert page.evaluate(TICKER) == ["Early"]
    assert page.text_content("[data-live='donations']") == "1"
    screenshot(page, "replay-tally-at-the-start")

    # Playing on past the moment: the show's gift and the ask on screen.
    page.wait_for_function(SHOWS, arg=["$350", "$1,000", "35%"], timeout=30_000)
    assert page.text_content("[data-live='moment-ask']") == "On screen: Give $250 tonight"
    assert page.text_content("[data-live='donations']") == "2"
    assert page.evaluate(TICKER) == ["Stage", "Early"]
    assert page.evaluate("window.Pledgecast.player.state().error") is None
    assert_accessible(page, include="[data-live-room]")
    screenshot(page, "replay-tally-after-the-gift")
