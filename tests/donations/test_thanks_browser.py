"""The thank-you in headless Chromium, with the simulated provider: the amount and receipt
reference, the donor's share link (a gift through it carries the donor's share refcode), and
the one-tap "Make it monthly" that sets up a monthly gift end to end."""

from __future__ import annotations

import pytest

from donations.models import Donation, MonthlyGift
from tests.browser import LAPTOP, PHONE
from tests.donations import panel
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.browser


def give(page, *, email: str, first: str = "Ada") -> None:
    panel.give(page, amount_minor=2_500, email=email, first=first, last="Lovelace")


def test_the_thank_you_shows_amount_reference_and_a_share_link_that_carries_the_refcode(
    live_server, simulated_settings, browser, screenshot
):
    event = EventFactory(status="live", suggested_amounts=[2_500, 5_000])
    url = f"{live_server.url}{event.get_absolute_url()}"
    context = browser.new_context(**LAPTOP, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"{url}?refcode=sms-7")
    give(page, email="ada@example.com")

    donation = Donation.objects.get()
    assert page.text_content("[data-donate-thanks-text]") == (
        "Your $25 gift is in. A receipt is on its way to your inbox."
    )
    assert page.text_content("[data-donate-reference-code]") == donation.reference
    share_url = page.input_value("[data-donate-share-url]")
    assert share_url == f"{url}?refcode={donation.share_refcode}"
    assert page.locator("[data-donate-upsell]").is_hidden()  # no monthly giving here
    assert page.locator("[data-donate-share-native]").is_hidden()  # a laptop: no share sheet
    page.click("[data-donate-share-copy]")
    page.wait_for_function(
        "() => document.querySelector('[data-donate-share-status]').textContent === 'Link copied.'"
    )
    assert page.evaluate("navigator.clipboard.readText()") == share_url
    screenshot(page, "laptop-thank-you")

    friend = browser.new_context(**PHONE).new_page()
    friend.goto(share_url)
    give(friend, email="grace@example.com", first="Grace")
    through_link = Donation.objects.get(email="grace@example.com")
    assert (through_link.refcode, through_link.status) == (donation.share_refcode, "succeeded")


def test_make_it_monthly_sets_up_a_monthly_gift_with_one_tap(
    live_server, simulated_settings, browser, screenshot
):
    event = EventFactory(
        status="live",
        suggested_amounts=[2_500, 5_000],
        campaign=CampaignFactory(monthly_enabled=True),
    )
    page = browser.new_page(**PHONE)
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    give(page, email="ada@example.com")
    assert page.text_content("[data-donate-upsell-button]") == "Make it $25 monthly"
    screenshot(page, "phone-thank-you-with-upsell")

    page.click("[data-donate-upsell-button]")
    page.wait_for_function(
        "() => document.querySelector('[data-donate-thanks-text]').textContent"
        ".startsWith('Your monthly gift of $25 is set up.')",
        timeout=10_000,
    )
    assert page.locator("[data-donate-upsell]").is_hidden()
    gift = MonthlyGift.objects.get()
    first = gift.first_donation
    assert (gift.status, first.status, first.email, first.interval) == (
        "active",
        "succeeded",
        "ada@example.com",
        "month",
    )
    assert page.text_content("[data-donate-reference-code]") == first.reference
    assert Donation.objects.count() == 2
    screenshot(page, "phone-thank-you-monthly")
