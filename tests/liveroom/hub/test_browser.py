"""The event page in headless Chromium: the panel moves live, names are text, full is said."""

import json
import time

import pytest
import redis
from django.conf import settings

from events import capacity, livebus
from events.models import CapacityTier, EventStatus
from tests.donations.factories import DonationFactory
from tests.factories import EventFactory
from tests.support.stripe import receive, succeeded

pytestmark = pytest.mark.browser

NAME = '<img src=x onerror="window.__xss=1">'
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def publish(event_id: int, version: int, **fields) -> None:
    """A snapshot on the live room's channel, as the event's elected publisher sends it."""
    snapshot = {
        "version": version, "status": "live", "currency": "usd", "goal": 100_000,
        "raised": 0, "donors": 0, "donations": 0, "viewers": 1, "recent": [], **fields,
    }  # fmt: skip
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.publish(livebus.channel(), f"s|{event_id}|{version}|{json.dumps(snapshot)}")
    client.close()


def test_donor_names_and_messages_in_the_ticker_are_text_not_html(web_processes, browser):
    event = EventFactory(status=EventStatus.LIVE)
    page = browser.new_page()
    page.goto(f"{web_processes[0].origin}{event.get_absolute_url()}")
    page.wait_for_selector("[data-live-room][data-version]")
    donation = DonationFactory(
        event=event, gift_minor=2_500, ticker_opt_in=True, display_name=NAME, message=PAYLOAD
    )
    receive(succeeded(donation))  # a real gift
    page.wait_for_selector('[data-live="ticker"] .live-name')
    assert page.text_content('[data-live="ticker"] .live-name') == NAME
    assert page.text_content('[data-live="ticker"] .live-message') == PAYLOAD
    assert page.text_content('[data-live="ticker"] .live-amount') == "$25"
    assert page.locator('[data-live="ticker"] img, [data-live="ticker"] script').count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.text_content('[data-live="donors"]') == "1"
    assert page.text_content('[data-live-unit="donors"]') == "donor"


def test_the_total_moves_to_the_new_amount(web_processes, browser):
    event = EventFactory(status=EventStatus.LIVE)
    page = browser.new_page()
    page.goto(f"{web_processes[1].origin}{event.get_absolute_url()}")
    page.wait_for_selector("[data-live-room][data-version]")
    publish(event.pk, time.time_ns() // 1_000_000 + 60_000, raised=50_000)  # a newer version
    deadline = time.monotonic() + 10
    while page.text_content('[data-live="raised"]') != "$500":
        assert time.monotonic() < deadline, page.text_content('[data-live="raised"]')
        page.wait_for_timeout(50)
    assert page.get_attribute('[data-live="progress"]', "aria-valuenow") == "50"


def test_the_page_says_the_event_is_full_when_refused(web_processes, browser):
    tier = CapacityTier.objects.create(name="solo", max_attendees=1)
    event = EventFactory(status=EventStatus.LIVE, capacity_tier=tier)
    first = browser.new_page()
    first.goto(f"{web_processes[0].origin}{event.get_absolute_url()}")
    first.wait_for_selector("[data-live-room][data-version]")
    second = browser.new_page()
    second.goto(f"{web_processes[0].origin}{event.get_absolute_url()}")
    second.wait_for_selector('[data-live-room][data-full="true"]')
    assert "This event is full." in second.text_content('[data-live="state"]')
    # It still shows the tally, from tally.json.
    second.wait_for_selector("[data-live-room][data-version]")
    # An owner moves the event to a larger tier: the waiting page sees the free seat in the
    # next tally.json it polls and comes in within seconds (its own retry is a minute away).
    larger = CapacityTier.objects.create(name="duo", max_attendees=2)
    capacity.upgrade_capacity(event_id=event.pk, tier_id=larger.pk, by_user_id=None)
    second.wait_for_selector("[data-live-room]:not([data-full])", timeout=15_000)
    assert second.evaluate("() => window.Pledgecast.liveroom.connected()")


def test_when_websockets_fail_the_page_polls_tally_json(web_processes, browser):
    event = EventFactory(status=EventStatus.LIVE, goal_minor=4_200_000)
    page = browser.new_page()
    refused = []

    def refuse(ws):  # a proxy that drops every WebSocket of the page
        refused.append(time.monotonic())
        ws.close(code=1011)  # as the server says when it cannot serve

    page.route_web_socket("**/ws/events/**", refuse)
    page.goto(f"{web_processes[0].origin}{event.get_absolute_url()}")
    page.wait_for_selector("[data-live-room][data-version]", timeout=15_000)
    assert page.text_content('[data-live="goal"]') == "$42,000"
    assert len(refused) >= 2  # it tried the socket again before polling...
    # ...after a jittered backoff (uniform over 0.25-5.25 s), not at once.
    assert 0.2 <= refused[1] - refused[0] <= 6.0
