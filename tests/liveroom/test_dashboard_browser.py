"""The live dashboard in headless Chromium on a laptop: a staff member signs in to the admin,
opens the event, follows "Live dashboard", sees the charts, and a donation made afterwards
appears in "Recent donations" without a reload; when the server goes away, the page says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import EventStatus, ViewerSample
from tests.browser import LAPTOP
from tests.factories import CampaignFactory, EventFactory, MembershipFactory, UserFactory
from tests.liveroom.test_dashboard import give
from tests.support.processes import Server, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def admin_server(django_db_setup, django_db_blocker) -> Iterator[Server]:
    """A uvicorn web process as `make run` starts it, on the test database, serving static
    files, with session cookies that work over plain HTTP."""
    server = start_server(env={"SECURE_COOKIES": "0"})
    yield server
    server.stop()


@pytest.fixture
def staff_event(transactional_db):
    """A live event of a campaign with one manager (committed: the server reads it)."""
    campaign = CampaignFactory(name="Alpha for Congress")
    event = EventFactory(
        campaign=campaign,
        title="Election-eve rally",
        status=EventStatus.LIVE,
        went_live_at=timezone.now() - timedelta(minutes=40),
        goal_minor=2_500_000,
    )
    MembershipFactory(campaign=campaign, user=UserFactory(username="dana"), role="manager")
    now = timezone.now()
    for minutes_ago in range(39, 0, -3):
        give(
            event,
            amount=2_500 * (1 + minutes_ago % 4),
            refcode=("email", "sms")[minutes_ago % 2],
            at=now - timedelta(minutes=minutes_ago, seconds=7),
        )
    for i in range(160):
        ViewerSample.objects.create(
            event=event, at=now - timedelta(seconds=15 * i), viewers=900 + (160 - i) * 7
        )
    return event


def test_staff_open_the_dashboard_from_the_event_and_see_a_new_donation_arrive(
    admin_server, staff_event, browser, screenshot
):
    context = browser.new_context(**LAPTOP, timezone_id="America/Chicago")
    page = context.new_page()
    page.goto(
        f"{admin_server.origin}/admin/login/?next=/admin/events/event/{staff_event.pk}/change/"
    )
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", "correct horse battery")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Live dashboard")

    page.click("text=Live dashboard")
    page.wait_for_url(f"**/staff/events/{staff_event.pk}/dashboard/")
    assert page.locator("svg[role=img]").count() == 3
    assert page.locator("#chart-per-minute rect.bar").count() == 13
    assert page.locator("[data-dash=raised]").inner_text() == "$850"
    # The first visit was rendered in UTC; the page asks again at once in the laptop's zone.
    page.wait_for_selector("text=Times in America/Chicago.", timeout=6_000)
    screenshot(page, "laptop-dashboard")

    give(staff_event, amount=50_000, first_name="Grace", last_name="Hopper", refcode="tv")

    # Polled by the page every 5 s: here within 6 s, without a reload.
    page.wait_for_selector("#recent-donations >> text=Grace Hopper", timeout=6_500)
    assert page.locator("[data-dash=raised]").inner_text() == "$1,350"
    assert page.locator("#dashboard-status").inner_text().startswith("updated ")
    screenshot(page, "laptop-dashboard-new-donation")

    admin_server.stop()  # the page keeps what it has and says so
    page.wait_for_selector("#dashboard-status.lost", timeout=6_500)
    assert page.locator("#dashboard-status").inner_text() == "connection lost, retrying"
    assert page.locator("#recent-donations >> text=Grace Hopper").count() == 1
    screenshot(page, "laptop-dashboard-connection-lost")
    context.close()
