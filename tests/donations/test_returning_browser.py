"""A returning donor in headless Chromium, with the simulated provider: a gift that saves the
card, a reload, the next gift in one tap after the amount; then "Not you? Forget this device"
and the card back with an emailed code."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from donations.models import Donation
from tests.axe import assert_accessible
from tests.browser import PHONE
from tests.donations import panel
from tests.factories import EventFactory

pytestmark = pytest.mark.browser

THANKS = "[data-donate-thanks]:visible, [data-donate-error]:not(:empty)"


def test_a_donor_who_saved_their_card_gives_again_in_one_tap(
    live_server, simulated_settings, browser, screenshot
):
    event = EventFactory(status="live", suggested_amounts=[2_500, 5_000])
    page = browser.new_page(**PHONE)
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    page.wait_for_selector("[data-returning-open]:visible")  # nothing saved yet
    panel.choose(page, amount_minor=2_500)
    panel.next_step(page)
    panel.fill_details(page)
    panel.next_step(page)
    page.check("input[name=save_card]")
    panel.pay(page)

    page.reload()
    page.wait_for_selector("[data-returning-give]:visible", timeout=10_000)
    assert page.text_content("[data-returning-welcome]") == "Welcome back, Ada."
    assert page.text_content("[data-returning-give]") == "Give with Visa •• 4242"
    page.click("button[data-amount-minor='5000']")  # the amount: not counted
    taps = 0

    assert page.text_content("[data-returning-give]") == "Give $50 with Visa •• 4242"
    assert_accessible(page, include="[data-donate]")
    screenshot(page, "phone-one-tap-button")
    page.click("[data-returning-give]")
    taps += 1
    page.wait_for_selector(THANKS, timeout=10_000)

    assert taps <= 3
    assert page.text_content("[data-donate-error]") == ""
    assert page.text_content("[data-donate-thanks-text]") == (
        "Your $50 gift is in. A receipt is on its way to your inbox."
    )
    again = Donation.objects.order_by("pk").last()
    assert (again.status, again.email, again.amount_minor) == (
        "succeeded",
        "ada@example.com",
        5_000,
    )
    assert Donation.objects.count() == 2
    screenshot(page, "phone-one-tap-thanks")

    page.click("[data-donate-again]")
    page.click("[data-returning-forget]")
    page.wait_for_selector("[data-returning-open]:visible")
    mail.outbox.clear()
    page.click("[data-returning-open]")
    page.fill("[data-returning-email]", "ada@example.com")
    page.click("[data-returning-send]")
    page.wait_for_selector("[data-returning-code-input]:visible")
    assert_accessible(page, include="[data-donate]")
    screenshot(page, "phone-emailed-code", full_page=False)
    [message] = mail.outbox
    code = re.search(r"Your code is (\d{6})", message.body).group(1)
    page.fill("[data-returning-code-input]", code)
    page.press("[data-returning-code-input]", "Enter")
    page.wait_for_selector("[data-returning-give]:visible")
    assert page.text_content("[data-returning-status]") == "You can give with Visa •• 4242 now."
    assert Donation.objects.count() == 2  # Enter in the code field gave nothing
