"""The event's report in headless Chromium on a laptop: a staff member signs in, opens the
report of a show that ended, and reads the speaker's moment with its money and dollars per
viewer-minute, the chart marking it, and the CSV links; axe finds nothing on the page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from engagement import moments
from events.models import EventStatus, ViewerSample
from tests.axe import axe_violations, describe
from tests.browser import LAPTOP
from tests.factories import CampaignFactory, EventFactory, MembershipFactory, UserFactory
from tests.support.ledger import give, refund
from tests.support.processes import Server, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report_server(django_db_setup, django_db_blocker) -> Iterator[Server]:
    server = start_server(env={"SECURE_COOKIES": "0", "LIVE_VIEWER_SAMPLE_SECONDS": "15"})
    yield server
    server.stop()


@pytest.fixture
def ended_show(transactional_db):
    """A show of 30 minutes that ended an hour ago, 200 viewers throughout, a speaker 10
    minutes in, then $130 net in the 5 minutes after her (committed: the server reads it)."""
    campaign = CampaignFactory(name="Alpha for Congress")
    start = (timezone.now() - timedelta(minutes=90)).replace(second=0, microsecond=0)
    event = EventFactory(
        campaign=campaign,
        title="Election-eve rally",
        status=EventStatus.ENDED,
        went_live_at=start,
        ended_at=start + timedelta(minutes=30),
    )
    MembershipFactory(campaign=campaign, user=UserFactory(username="vic"), role="viewer")
    ViewerSample.objects.bulk_create(
        ViewerSample(event=event, at=start + timedelta(seconds=15 * i), viewers=200)
        for i in range(30 * 4)
    )
    speaker = start + timedelta(minutes=10)
    moments.record_moment(event_id=event.pk, kind="speaker", label="Jane Doe", at=speaker)
    give(event, amount=10_000, at=speaker + timedelta(seconds=30))
    refund(give(event, amount=5_000, at=speaker + timedelta(minutes=2)), 2_000)
    return event


def test_the_report_shows_a_moment_with_its_dollars_per_viewer_minute(
    report_server, ended_show, browser, screenshot
):
    page = browser.new_page(**LAPTOP)
    path = f"/staff/events/{ended_show.pk}/report/"
    page.goto(f"{report_server.origin}/admin/login/?next={path}")
    page.fill("input[name=username]", "vic")
    page.fill("input[name=password]", "correct horse battery")
    page.click("input[type=submit]")
    page.wait_for_url(f"**{path}")

    row = page.locator("[data-moment='1']")
    cells = [c.strip() for c in row.locator("td, th").all_inner_texts()]
    # $130 net over 200 viewers x 5 minutes = 1,000 viewer-minutes: 13 cents each.
    assert cells[2:] == ["Speaker: Jane Doe", "$130", "2", "2", "1000.0", "$0.13"]
    assert row.locator("[data-per-viewer-minute]").inner_text() == "$0.13"
    assert page.locator("svg[role=img] .marker").count() == 1
    assert page.locator("a[download]").count() == 2
    screenshot(page, "laptop-report")

    found = axe_violations(page)
    assert not found, describe(found)
