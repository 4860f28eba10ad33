"""The room in headless Chromium, two attendees and a staff member on the real platform: a
question asked on one page, approved on the dashboard, upvoted from the other page, then put
"on screen now" on both; a poll opened from the dashboard, both vote, the results on both,
closed; reactions from each page seen on the other (floating, or as text with reduced
motion); an ask pinned on both, handed to the donate panel's script; axe-core on the page with
its panels."""

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


def attendee(browser, platform, event: Event, device: dict, **options):
    page = browser.new_context(**device, **options).new_page()
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_selector("[data-live-room][data-version]")
    return page


def press_on_dashboard(page, selector: str) -> None:
    """Press a button of the dashboard's room panel (a form post, then the dashboard again);
    the panels refresh every 5 s, so it is looked up when pressed."""
    page.wait_for_selector(selector, timeout=15_000)
    with page.expect_navigation():
        page.click(selector)


def test_questions_and_a_poll_with_two_attendees_and_staff(platform, browser, screenshot):
    event = EventFactory(status=EventStatus.LIVE, title="Town hall")
    ada = attendee(browser, platform, event, PHONE, reduced_motion="reduce")
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

    staff.fill("#new-poll-question", "Which issue first?")
    staff.fill("#new-poll-option-1", "Rent")
    staff.fill("#new-poll-option-2", "Jobs")
    with staff.expect_navigation():
        staff.click("[data-poll-open-now]")
    for page in (ada, bob):
        page.wait_for_selector("[data-room-poll]:not([hidden]) [data-room-vote]:not([hidden])")
        assert page.text_content("[data-room-poll-question]") == "Which issue first?"
        assert page.text_content("[data-room-poll-note]") == "Results show once you vote."
    assert_accessible(bob, include="[data-room]")
    ada.check("[data-room-poll-options] label:has-text('Rent') input")
    ada.click("[data-room-vote-button]")
    ada.wait_for_selector("[data-room-poll-results]:not([hidden])")
    bob.check("[data-room-poll-options] label:has-text('Jobs') input")
    bob.click("[data-room-vote-button]")
    for page, mine in ((ada, "Rent"), (bob, "Jobs")):
        page.wait_for_function(
            "() => [...document.querySelectorAll('.room-result-figure')].map(n => n.textContent)"
            ".join('|') === '50% · 1 vote|50% · 1 vote'"
        )
        assert page.text_content(".room-result.mine").startswith(f"{mine} (your vote)")
    press_on_dashboard(staff, '[data-poll-action="close"]')
    for page in (ada, bob):
        page.wait_for_function(
            "() => document.querySelector('[data-room-poll-note]').textContent === "
            "'This poll is closed.'"
        )
        assert "The poll is closed. Results: Rent 50%, Jobs 50%." in page.text_content(
            "[data-room-announce]"
        )

    for _ in range(3):
        bob.click('[data-react="heart"]')
    ada.wait_for_function(
        "() => document.querySelector('[data-room]').dataset.reactionsSeen === '3'"
    )
    assert ada.text_content("[data-room-react-tally]") == "❤️ 3"  # reduced motion: text
    assert ada.locator(".room-float").count() == 0
    for _ in range(2):
        ada.click('[data-react="clap"]')
    bob.wait_for_function(
        "() => document.querySelector('[data-room]').dataset.reactionsSeen === '2'"
    )
    bob.wait_for_selector(".room-float:has-text('👏')", state="attached")

    staff.fill("#new-ask-text", "Give $27 now: help us reach $100k by 9 pm")
    staff.fill("#new-ask-amount", "27")
    with staff.expect_navigation():
        staff.click("[data-ask-pin-now]")
    for page in (ada, bob):
        page.wait_for_selector("[data-room-pinned-ask]:not([hidden])")
        assert page.text_content("[data-room-give]") == "Give $27"
        assert page.evaluate("() => window.Pledgecast.room.ask()") == {
            "id": page.evaluate("() => window.Pledgecast.room.ask().id"),
            "text": "Give $27 now: help us reach $100k by 9 pm",
            "amount": 2700,
            "tag": "ask-1",
        }
    screenshot(ada, "phone")
    screenshot(staff, "dashboard")
    assert_accessible(ada, include="[data-room]")
