"""The room in headless Chromium, two attendees and a staff member on the real platform: a
question asked on one page, approved on the dashboard, upvoted from the other page, then put
"on screen now" on both; axe-core on the page with its panels."""

from __future__ import annotations

import pytest
from django.test import Client

from events.models import Event, EventStatus
from tests.axe import assert_accessible
from tests.browser import LAPTOP, PHONE
from tests.factories import EventFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.browser


def staff_dashboard(browser, platform, event: Event):
    """The event's live dashboard in its own browser context, signed in as a manager."""
    user = UserFactory(username="moderator")
    MembershipFactory(campaign=event.campaign, user=user, role="manager")
    client = Client()
    client.force_login(user)
    context = browser.new_context(**LAPTOP)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": platform.origin}]
    )
    page = context.new_page()
    page.goto(platform.url(f"/staff/events/{event.pk}/dashboard/"))
    return page


def attendee(browser, platform, event: Event, device: dict):
    page = browser.new_context(**device).new_page()
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_selector("[data-live-room][data-version]")
    return page


def press_on_dashboard(page, selector: str) -> None:
    """Press a button of the dashboard's room panel (a form post, then the dashboard again);
    the panels refresh every 5 s, so it is looked up when pressed."""
    page.wait_for_selector(selector, timeout=15_000)
    with page.expect_navigation():
        page.click(selector)


def test_ask_approve_upvote_and_on_screen_now_on_both_pages(platform, browser, screenshot):
    event = EventFactory(status=EventStatus.LIVE, title="Town hall")
    ada = attendee(browser, platform, event, PHONE)
    bob = attendee(browser, platform, event, LAPTOP)
    staff = staff_dashboard(browser, platform, event)

    ada.fill("#room-question", "  What will you do about   rent?  ")
    ada.click("[data-room-ask-button]")
    ada.wait_for_function(
        "() => document.querySelector('[data-room-ask-status]').textContent"
        ".includes('staff will read your question')"
    )
    assert ada.input_value("#room-question") == ""

    staff.reload()
    press_on_dashboard(staff, '[data-question-action="approve"]')
    assert "Question approved: it is on every page." in staff.text_content(".messagelist")

    bob.wait_for_selector("[data-upvote]")
    assert bob.text_content(".room-question-text") == "What will you do about rent?"
    bob.click("[data-upvote]")
    bob.wait_for_selector('[data-upvote][aria-pressed="true"]')
    for page in (ada, bob):
        page.wait_for_function(
            "() => document.querySelector('[data-votes]')?.textContent === '1 upvote'"
        )

    press_on_dashboard(staff, '[data-question-action="pin"]')
    for page in (ada, bob):
        page.wait_for_selector("[data-room-on-screen]:not([hidden])")
        assert page.text_content("[data-room-on-screen-text]") == "What will you do about rent?"
        page.wait_for_function(
            "() => document.querySelector('[data-room-announce]').textContent === "
            "'On screen now: What will you do about rent?'"
        )
    screenshot(ada, "phone")
    screenshot(staff, "dashboard")
    assert_accessible(bob, include="[data-room]")
    assert_accessible(ada, include="[data-room]")
