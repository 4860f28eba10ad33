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
from tests.support.ledger import give
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


# WCAG's contrast ratio of every element's own text in the page's content against the colour
# behind it (the nearest ancestor's opaque background): [[ratio, text, class], ...], lowest first.
TEXT_CONTRASTS = """
() => {
  const rgba = (colour) => {
    const parts = colour.match(/rgba?\\(([^)]+)\\)/)[1].split(/[\\s,\\/]+/).filter(Boolean);
    return parts.map(Number).concat(parts.length > 3 ? [] : [1]);
  };
  const channel = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const behind = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const colour = rgba(getComputedStyle(n).backgroundColor);
      if (colour[3] > 0) return colour;
    }
    return [255, 255, 255, 1];
  };
  const found = [];
  for (const node of document.querySelectorAll("#content *")) {
    if (node.closest("svg, video, script, style")) continue;
    const own = [...node.childNodes].filter((c) => c.nodeType === 3);
    const text = own.map((c) => c.data).join("").trim();
    const box = node.getBoundingClientRect();
    if (!text || box.width < 1 || getComputedStyle(node).visibility === "hidden") continue;
    const [a, b] = [luminance(rgba(getComputedStyle(node).color)), luminance(behind(node))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    found.push([ratio, text.slice(0, 40), node.className]);
  }
  return found.sort((x, y) => x[0] - y[0]);
}
"""


def sign_in(page, origin: str, next_path: str) -> None:
    page.goto(f"{origin}/admin/login/?next={next_path}")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", "correct horse battery")
    page.click("input[type=submit]")


def test_the_dashboards_text_has_a_contrast_of_4_5_to_1(admin_server, staff_event, browser):
    page = browser.new_page(**LAPTOP)
    sign_in(page, admin_server.origin, f"/staff/events/{staff_event.pk}/dashboard/")
    page.wait_for_selector("[data-dash=raised]")
    contrasts = page.evaluate(TEXT_CONTRASTS)
    raised = [ratio for ratio, text, _ in contrasts if text == "$850"]
    assert raised, contrasts
    assert raised[0] >= 4.5, contrasts
    assert contrasts[0][0] >= 4.5, contrasts[:5]


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
