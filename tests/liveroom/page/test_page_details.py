"""The event page's details, measured in headless Chromium on a phone and a laptop while the live
video loads and plays: nothing moves under the viewer (cumulative layout shift), one live badge,
no scrubber or duration on a live stream, a progress bar that shows a small fraction, the goal in
whole dollars, and a viewer count that counts this viewer."""

from __future__ import annotations

import pytest

from events.models import Event, EventStatus
from streaming import show
from streaming.models import Stream
from tests.browser import LAPTOP, PHONE
from tests.donations.factories import DonationFactory
from tests.factories import EventFactory
from tests.liveroom.page.conftest import new_stream
from tests.support import wait_for
from tests.support.stripe import receive, succeeded

pytestmark = pytest.mark.browser

DEVICES = {"phone": PHONE, "laptop": LAPTOP}
VIDEO = "[data-player-video]"

# Every layout shift from the first paint on, as the Layout Instability API reports it. The
# tests give no input before they measure, so every shift counts: Chromium marks the shifts of a
# page under touch emulation (the phone) as "after input", which Lighthouse's CLS would skip.
MEASURE_LAYOUT_SHIFTS = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.__shifts.push({
      value: entry.value,
      sources: (entry.sources || []).map((s) => s.node && (s.node.className || s.node.nodeName)),
    });
  }
}).observe({ type: "layout-shift", buffered: true });
"""

# Elements that read "Live" on their own and can be seen.
VISIBLE_LIVE_BADGES = """
() => [...document.querySelectorAll("body *")].filter((node) => {
  if (node.children.length || !/^live$/i.test(node.textContent.trim())) return false;
  const box = node.getBoundingClientRect();
  const style = getComputedStyle(node);
  return box.width > 1 && box.height > 1 && style.visibility !== "hidden";
}).length
"""

# Every text the viewer count shows, from the first parse on.
# Every text the viewer count shows, from the parser's first one on (the page's deferred scripts
# may get a snapshot before DOMContentLoaded).
RECORD_VIEWER_COUNTS = """
window.__viewers = [];
new MutationObserver(() => {
  const node = document.querySelector("[data-live=viewers]");
  const text = node ? node.textContent : "";
  if (text && window.__viewers[window.__viewers.length - 1] !== text) window.__viewers.push(text);
}).observe(document, { childList: true, characterData: true, subtree: true });
"""


def live_event_with_a_gift(platform) -> Event:
    """A live show ($150 raised of a $50,000 goal) with an encoder pushing."""
    event = EventFactory(status=EventStatus.SCHEDULED, goal_minor=5_000_000)
    receive(succeeded(DonationFactory(event=event, gift_minor=15_000, ticker_opt_in=True)))
    stream, key = new_stream(event.pk)
    platform.push(stream, key)
    wait_for(lambda: Stream.objects.get(pk=stream.pk).state == "live", 30, what="stream live")
    show.go_live(event_id=event.pk)
    return event


def open_and_play(browser, platform, event: Event, device: str):
    page = browser.new_page(**DEVICES[device])
    page.add_init_script(MEASURE_LAYOUT_SHIFTS)
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_function(
        f"() => document.querySelector('{VIDEO}').currentTime >= 3", timeout=40_000
    )
    return page


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_the_live_page_does_not_move_while_it_loads_and_plays(
    platform, browser, screenshot, device
):
    event = live_event_with_a_gift(platform)
    page = open_and_play(browser, platform, event, device)
    page.wait_for_function(
        "() => document.querySelector('[data-live=raised]').textContent === '$150'"
    )
    shifts = page.evaluate("window.__shifts")
    cls = sum(shift["value"] for shift in shifts)
    screenshot(page, f"details-{device}", full_page=False)
    assert cls < 0.05, shifts
    # The player's bar is one line however wide the quality menu gets.
    bar = page.eval_on_selector("[data-player-bar]", "bar => bar.scrollHeight <= bar.clientHeight")
    assert bar


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_a_live_stream_has_one_live_badge_and_no_timeline(platform, browser, device):
    event = live_event_with_a_gift(platform)
    page = browser.new_page(**DEVICES[device])
    page.goto(platform.url(event.get_absolute_url()))
    # Before the video plays (a phone shows native controls' "0:00 / 0:12" otherwise).
    assert page.eval_on_selector(VIDEO, "video => video.controls") is False
    page.wait_for_function(
        f"() => document.querySelector('{VIDEO}').currentTime >= 1", timeout=40_000
    )
    assert page.evaluate(VISIBLE_LIVE_BADGES) == 1
    assert page.eval_on_selector(VIDEO, "video => video.controls") is False
    # Our own controls, in the keyboard's reach.
    page.focus("[data-player-toggle]")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelector('{VIDEO}').paused")
    assert page.get_attribute("[data-player-toggle]", "aria-label") == "Play"
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => !document.querySelector('{VIDEO}').paused")
    assert page.get_attribute("[data-player-toggle]", "aria-label") == "Pause"


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_the_tally_shows_a_small_fraction_the_whole_dollar_goal_and_this_viewer(
    platform, browser, screenshot, device
):
    event = live_event_with_a_gift(platform)
    page = browser.new_page(**DEVICES[device])
    page.add_init_script(RECORD_VIEWER_COUNTS)
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_selector("[data-live-room][data-version]")
    page.wait_for_function(
        "() => document.querySelector('[data-live=raised]').textContent === '$150'"
    )
    assert page.text_content("[data-live=goal]") == "$50,000"
    assert page.text_content("[data-live=percent]") == "0.3%"
    width = page.eval_on_selector("[data-live=bar]", "bar => bar.getBoundingClientRect().width")
    assert width > 0
    assert page.get_attribute("[data-live=progress]", "aria-valuenow") == "0.3"
    # Admitted: this viewer is one of those watching, whatever the last count said; before the
    # first snapshot no count is made up.
    viewers = int(page.text_content("[data-live=viewers]").replace(",", ""))
    assert viewers >= 1
    shown = page.evaluate("window.__viewers")
    assert shown[0] == "—"
    assert "0" not in shown, shown
    screenshot(page, f"tally-{device}", full_page=False)


def test_the_count_up_only_shows_figures_between_the_old_and_new_totals(platform, browser):
    event = live_event_with_a_gift(platform)
    page = browser.new_page(**LAPTOP)
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_function(
        "() => document.querySelector('[data-live=raised]').textContent === '$150'"
    )
    page.evaluate(
        """() => {
          window.__shown = [];
          const node = document.querySelector('[data-live=raised]');
          new MutationObserver(() => window.__shown.push(node.textContent))
            .observe(node, { childList: true, characterData: true, subtree: true });
        }"""
    )
    receive(succeeded(DonationFactory(event=event, gift_minor=2_500_000)))
    page.wait_for_function(
        "() => document.querySelector('[data-live=raised]').textContent === '$25,150'"
    )
    shown = [int(text.strip("$").replace(",", "")) for text in page.evaluate("window.__shown")]
    assert shown == sorted(shown)
    assert shown[-1] == 25_150
    assert all(150 <= figure <= 25_150 for figure in shown)


def test_reduced_motion_shows_the_new_total_at_once(platform, browser):
    event = live_event_with_a_gift(platform)
    page = browser.new_page(**LAPTOP, reduced_motion="reduce")
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_function(
        "() => document.querySelector('[data-live=raised]').textContent === '$150'"
    )
    page.evaluate(
        """() => {
          window.__shown = [];
          const node = document.querySelector('[data-live=raised]');
          new MutationObserver(() => window.__shown.push(node.textContent))
            .observe(node, { childList: true, characterData: true, subtree: true });
        }"""
    )
    receive(succeeded(DonationFactory(event=event, gift_minor=2_500_000)))
    page.wait_for_function(
        "() => document.querySelector('[data-live=raised]').textContent === '$25,150'"
    )
    assert page.evaluate("window.__shown") == ["$25,150"]
