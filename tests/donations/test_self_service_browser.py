"""The donor's self-service end to end in headless Chromium, with the simulated provider, on a
phone: give, "Make it $25 monthly" on the thank-you, follow "Manage your gifts", ask for the
link, open it from the email, see the gifts in the campaign's brand, cancel the monthly gift.
axe-core checks the pages the donor meets."""

from __future__ import annotations

import pytest
from django.core import mail

from donations.models import Donation, MonthlyGift
from tests.axe import assert_accessible
from tests.browser import PHONE
from tests.donations.support import link_path
from tests.donations.test_thanks_browser import give
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.browser


def test_the_monthly_upsell_makes_a_monthly_gift_that_the_self_service_page_cancels(
    live_server, simulated_settings, browser, screenshot
):
    campaign = CampaignFactory(
        name="Alpha for Congress", monthly_enabled=True, paid_for_by="Paid for by Alpha PAC"
    )
    event = EventFactory(status="live", suggested_amounts=[2_500, 5_000], campaign=campaign)
    page = browser.new_page(**PHONE)
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    give(page, email="ada@example.com")
    page.click("[data-donate-upsell-button]")
    page.wait_for_function(
        "() => document.querySelector('[data-donate-thanks-text]').textContent"
        ".startsWith('Your monthly gift of $25 is set up.')",
        timeout=10_000,
    )
    assert MonthlyGift.objects.get().status == "active"

    # The thank-you's link: the campaign's own page to ask for a link.
    page.click("[data-donate-manage]")
    page.wait_for_selector("[data-manage-ask]")
    assert page.text_content("[data-paid-for-by]") == "Paid for by Alpha PAC"
    assert_accessible(page)
    mail.outbox.clear()
    page.fill("#manage-email", "ada@example.com")
    page.click("[data-manage-ask] button[type=submit]")
    page.wait_for_selector("[data-manage-sent]")

    [message] = mail.outbox
    page.goto(f"{live_server.url}{link_path(message)}")
    page.click("[data-manage-continue]")
    page.wait_for_selector("[data-monthly-gift]")
    assert page.text_content("[data-monthly-gift] h3") == "$25 a month to Alpha for Congress"
    assert page.locator("[data-gift]").count() == 2  # the one-time gift and the first month
    assert page.text_content("[data-paid-for-by]") == "Paid for by Alpha PAC"
    assert_accessible(page)
    screenshot(page, "phone-gifts")

    page.click("[data-manage-cancel]")
    page.click("[data-manage-confirm-cancel]")
    page.wait_for_selector("[data-manage-message]")
    assert "is cancelled: nothing more will be charged" in page.text_content(
        "[data-manage-message]"
    )
    assert page.text_content("[data-monthly-state]").startswith("Ended on ")
    assert page.locator("[data-manage-cancel]").count() == 0
    gift = MonthlyGift.objects.get()
    assert (gift.status, gift.first_donation.email) == ("ended", "ada@example.com")
    assert Donation.objects.filter(status="succeeded").count() == 2
    screenshot(page, "phone-gifts-cancelled")
