"""The goal's extras in headless Chromium on the real platform, two attendees: a sponsor's
match shows its banner on both pages; a milestone celebrates once on each (not again when a
refund dips below it and a later gift climbs back, nor after a reload); after a refund the
thermometer's matched part and its text follow the ledger; axe-core on the panel with both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from donations import matching, milestones
from events.models import EventStatus
from tests.axe import assert_accessible
from tests.browser import LAPTOP, PHONE
from tests.donations.goals import give, refund
from tests.factories import EventFactory

pytestmark = pytest.mark.browser

RAISED = "document.querySelector('[data-live=\"raised\"]').textContent"
MATCHED = "document.querySelector('[data-live=\"matched\"]').textContent"
BANNER = "document.querySelector('[data-live=\"match\"]').textContent"
CELEBRATIONS = "document.querySelector('[data-live-room]').getAttribute('data-celebrations')"


def _attendee(browser, platform, event, device, **options):
    page = browser.new_context(**device, **options).new_page()
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_selector("[data-live-room][data-version]")
    return page


def _wait(pages, condition: str) -> None:
    for page in pages:
        page.wait_for_function(f"() => {condition}", timeout=10_000)


def test_a_match_and_a_milestone_on_two_pages_through_a_refund(platform, browser, settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.ALLOW_SIMULATED_PAYMENTS = True  # gifts paid and refunded by the simulated provider
    event = EventFactory(status=EventStatus.LIVE, goal_minor=100_000)  # a $1,000 goal
    milestones.save_milestone(event_id=event.pk, amount_minor=10_000, percent=None)
    now = timezone.now()
    matching.save_match_offer(
        event_id=event.pk,
        terms=matching.MatchTerms(
            sponsor="Acme Corp", ratio=1, cap_minor=50_000,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
        ),
    )  # fmt: skip
    ada = _attendee(browser, platform, event, PHONE, reduced_motion="reduce")
    bob = _attendee(browser, platform, event, LAPTOP)
    pages = [ada, bob]
    for page in pages:
        banner = page.text_content('[data-live="match"]')
        assert banner.startswith("Every gift doubled by Acme Corp until ")
        assert banner.endswith(", $500 of $500 match left")
        assert page.is_hidden('[data-live="matched-line"]')  # nothing matched yet

    give(event, 6_000)
    _wait(pages, f"{MATCHED} === '$60' && {BANNER}.endsWith('$440 of $500 match left')")
    assert [p.evaluate(f"() => {CELEBRATIONS}") for p in pages] == [None, None]

    crossing = give(event, 5_000)  # $110: past the $100 milestone
    _wait(pages, f"{CELEBRATIONS} === '1'")
    for page in pages:
        assert page.text_content('[data-live="milestone"]') == "🎉 Milestone reached: $100 raised"
    assert_accessible(bob, include="[data-live-room]")

    refund(crossing)  # $60 raised again: the match follows the ledger
    _wait(pages, f"{RAISED} === '$60' && {MATCHED} === '$60'")
    for page in pages:
        assert page.text_content('[data-live="match"]').endswith(", $440 of $500 match left")
        assert (
            page.evaluate("() => document.querySelector('[data-live=\"matched-bar\"]').style.width")
            == "6%"
        )  # $60 of the $1,000 goal, beside the donors' $60
        assert page.get_attribute('[data-live="progress"]', "aria-valuetext") == (
            "12% of the goal: $60 raised + $60 matched"
        )

    give(event, 7_000)  # $130: above the milestone again, celebrated nothing new
    _wait(pages, f"{RAISED} === '$130' && {MATCHED} === '$130'")
    assert [p.evaluate(f"() => {CELEBRATIONS}") for p in pages] == ["1", "1"]

    bob.reload()  # a reload (a reconnect) soon after the crossing: no second celebration
    bob.wait_for_selector("[data-live-room][data-version]")
    assert bob.evaluate(f"() => {CELEBRATIONS}") is None
    assert bob.text_content('[data-live="matched"]') == "$130"
