"""Registration in headless Chromium on a phone: fill the event page's form, submit, see the
panel say so; the confirmation is in the outbox."""

from __future__ import annotations

import pytest

from events.models import EventStatus, Registration
from tests.browser import PHONE
from tests.factories import EventFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]


def test_a_visitor_on_a_phone_registers_and_sees_they_are_registered(
    browser, screenshot, live_server, mailoutbox, settings
):
    # The live server speaks plain HTTP: cookies marked Secure would not come back.
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_SECURE = False
    event = EventFactory(
        status=EventStatus.SCHEDULED, registration_required=True, title="Town hall"
    )
    page = browser.new_page(**PHONE)
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    page.locator("[data-registration-form]").scroll_into_view_if_needed()
    screenshot(page, "phone-registration-form-before")

    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("Ada@Example.org")
    page.locator("[data-registration-form] button[type=submit]").click()
    page.wait_for_selector("[data-registration-done]", timeout=10_000)

    assert page.url == f"{live_server.url}{event.get_absolute_url()}#registered"
    assert page.text_content("[data-registration-done]") == (
        "You're registered, Ada Lovelace. We sent a confirmation to ada@example.org."
    )
    panel = page.locator("section#registered")
    assert panel.get_by_role("link", name="Add to calendar").get_attribute("href") == (
        f"/events/{event.slug}/calendar.ics"
    )
    screenshot(page, "phone-registered-after")
    assert Registration.objects.get().email == "ada@example.org"
    assert [m.to for m in mailoutbox] == [["ada@example.org"]]
    (cookie,) = [c for c in page.context.cookies() if c["name"] == f"pc_registration_{event.pk}"]
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Lax")
