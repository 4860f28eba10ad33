"""axe-core (tests/axe.py: WCAG 2.x A and AA and axe's best practices) finds nothing on the pages
people meet, each as it is while they use it: the event page before the show, live with its
video playing and after it with the replay, on a phone (390 x 844) and a laptop (1366 x 768);
the staff's live dashboard during the show, with donations; the thank-you after a gift. One
browser per test, a page per device, and every page checked before the test asserts, so one run
names every violation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from events.models import EventStatus
from streaming import show
from streaming.models import Stream
from tests.axe import axe_violations, describe
from tests.browser import PHONE
from tests.donations.factories import DonationFactory
from tests.factories import CampaignFactory, EventFactory
from tests.liveroom.page.conftest import new_stream
from tests.liveroom.page.test_event_page_donations import give
from tests.support import wait_for
from tests.support.stripe import receive, succeeded

pytestmark = pytest.mark.browser

LAPTOP = {"viewport": {"width": 1366, "height": 768}}
DEVICES = {"phone": PHONE, "laptop": LAPTOP}
VIDEO = "[data-player-video]"


class Findings:
    """axe's violations on each page checked, by the page's name."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}
        self.checked: list[str] = []

    def check(self, page: Any, name: str) -> None:
        self.checked.append(name)
        violations = axe_violations(page)
        if violations:
            self.found[name] = describe(violations)

    def report(self) -> str:
        return "\n".join(f"--- {name}\n{found}" for name, found in self.found.items())


def playing(page, seconds: float) -> None:
    page.wait_for_function(
        f"() => document.querySelector('{VIDEO}').currentTime >= {seconds}", timeout=40_000
    )


def test_the_event_page_before_during_and_after_the_show_has_no_violations(
    platform, browser, screenshot
):
    starts = timezone.now() + timedelta(hours=2)
    campaign = CampaignFactory(  # the brand's colours and its "Paid for by" box, checked too
        name="Alpha for Congress", paid_for_by="Paid for by Alpha for Congress",
        brand_color="#7a1f2b", brand_text_color="#ffffff",
    )  # fmt: skip
    event = EventFactory(
        campaign=campaign, status=EventStatus.SCHEDULED, starts_at=starts,
        ends_at=starts + timedelta(hours=1),
    )  # fmt: skip
    receive(succeeded(DonationFactory(event=event, gift_minor=15_000, ticker_opt_in=True)))
    stream, key = new_stream(event.pk)
    pages = {device: browser.new_page(**options) for device, options in DEVICES.items()}
    findings = Findings()

    for device, page in pages.items():
        page.goto(platform.url(event.get_absolute_url()))
        page.wait_for_selector("[data-cover=before] .countdown:has-text('Starts in')")
        page.wait_for_selector("[data-live-room][data-version]")
        findings.check(page, f"scheduled, {device}")

    platform.push(stream, key)
    wait_for(lambda: Stream.objects.get(pk=stream.pk).state == "live", 30, what="stream live")
    show.go_live(event_id=event.pk)
    for device, page in pages.items():
        playing(page, 2)
        findings.check(page, f"live and playing, {device}")
        screenshot(page, f"live-{device}", full_page=False)
    # Staff watch the same show: the figures, the charts, the stream's health, the preview.
    receive(succeeded(DonationFactory(event=event, gift_minor=2_500, ticker_opt_in=True)))
    staff = platform.staff_dashboard(browser, event, device=LAPTOP)
    staff.wait_for_function(
        "() => document.querySelector('[data-dash=raised]').textContent.trim() === '$175'"
    )
    findings.check(staff, "staff dashboard, live with donations")
    screenshot(staff, "dashboard")

    show.end_show(event_id=event.pk)
    for device, page in pages.items():
        page.wait_for_selector("[data-cover=replay]:visible", timeout=40_000)
        findings.check(page, f"ended, replay offered, {device}")
    laptop = pages["laptop"]
    laptop.click("[data-player-replay]")
    laptop.wait_for_function("() => window.Pledgecast.player.state().kind === 'replay'")
    playing(laptop, 1)
    findings.check(laptop, "replay playing, laptop")

    assert len(findings.checked) == 8
    assert not findings.found, "axe-core found:\n" + findings.report()


def test_the_thank_you_after_a_gift_has_no_violations(platform, browser, screenshot):
    event = EventFactory(status=EventStatus.LIVE, suggested_amounts=[2_500, 5_000])
    for gift_minor in (15_000, 2_500):
        receive(succeeded(DonationFactory(event=event, gift_minor=gift_minor, ticker_opt_in=True)))
    findings = Findings()

    for device, options in DEVICES.items():
        page = browser.new_context(**options).new_page()
        page.goto(platform.url(event.get_absolute_url()))
        page.wait_for_selector("[data-live-room][data-version]")
        give(page, amount_minor=5_000, display_name=f"Ada on a {device}")
        findings.check(page, f"thank-you, {device}")
        screenshot(page, f"thanks-{device}", full_page=False)

    assert len(findings.checked) == 2
    assert not findings.found, "axe-core found:\n" + findings.report()
