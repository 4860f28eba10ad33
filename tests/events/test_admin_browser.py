"""The events admin on a 1366 px laptop in headless Chromium: the event list fits the screen
(nothing cut off at the right) with the filters beside it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import EventStatus
from tests.browser import LAPTOP
from tests.factories import CampaignFactory, EventFactory, MembershipFactory, UserFactory
from tests.support.processes import Server, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def admin_server(django_db_setup) -> Iterator[Server]:
    server = start_server(env={"SECURE_COOKIES": "0"})  # the session cookie over plain HTTP
    yield server
    server.stop()


@pytest.fixture
def busy_campaign(transactional_db):
    """A campaign with long names and a dozen events in every state (committed)."""
    campaign = CampaignFactory(name="Friends of the Upper Mississippi River Valley for Congress")
    MembershipFactory(campaign=campaign, user=UserFactory(username="dana"), role="manager")
    statuses = [EventStatus.DRAFT, EventStatus.SCHEDULED, EventStatus.LIVE, EventStatus.ENDED]
    for i in range(12):
        EventFactory(
            campaign=campaign,
            title=f"Election-eve rally and telethon with the candidate, part {i + 1}",
            status=statuses[i % 4],
            starts_at=timezone.now() + timedelta(days=i),
            goal_minor=123_456_789_00,
        )
    return campaign


def test_the_event_list_fits_a_laptop_screen(admin_server, busy_campaign, browser, screenshot):
    page = browser.new_page(**LAPTOP)
    page.goto(f"{admin_server.origin}/admin/login/?next=/admin/events/event/")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", "correct horse battery")
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 12
    fits = page.evaluate(
        """() => {
          const results = document.querySelector("#changelist .results");
          const content = document.querySelector("#content");
          return {
            results: [results.scrollWidth, results.clientWidth],
            content: [content.scrollWidth, content.clientWidth],
            page: [document.documentElement.scrollWidth, window.innerWidth],
          };
        }"""
    )
    screenshot(page, "event-list-1366", full_page=False)
    for scroll_width, client_width in fits.values():
        assert scroll_width <= client_width, fits
    # Every column's header is on the screen.
    right = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('#result_list thead th')]"
        ".map((th) => th.getBoundingClientRect().right))"
    )
    assert right <= 1366
