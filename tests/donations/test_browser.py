"""The donate panel in headless Chromium, with the simulated provider: the whole flow, on a
phone and on a laptop, by keyboard, and the thank-you that finds the donor in the live ticker
(a real uvicorn web process: the ticker needs WebSockets)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from donations.models import Donation, MonthlyGift
from donations.selectors import event_tally
from tests.browser import LAPTOP, PHONE
from tests.donations import panel
from tests.factories import CampaignFactory, EventFactory
from tests.support.processes import Server, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def donate_server(django_db_setup, django_db_blocker, live_redis) -> Iterator[Server]:
    """One uvicorn web process on the test database and Redis that takes simulated
    payments. The live room's keys of earlier runs are gone (`live_redis`): event ids repeat
    across runs, and a stale count of published changes would hold back the ticker."""
    server = start_server(env={"ALLOW_SIMULATED_PAYMENTS": "1", "SECURE_COOKIES": "0"})
    yield server
    server.stop()


def fill_donor(page, first="Grace", last="Hopper", email="grace@example.com"):
    panel.fill_details(page, email=email, first=first, last=last)


def test_a_donor_on_a_phone_gives_and_sees_their_name_arrive_in_the_live_ticker(
    donate_server, browser, screenshot
):
    event = EventFactory(status="live", suggested_amounts=[2_500, 5_000])
    page = browser.new_page(**PHONE)
    page.goto(f"{donate_server.origin}{event.get_absolute_url()}?refcode=sms-7")
    page.wait_for_selector("[data-live-room][data-version]")

    panel.choose(page, amount_minor=5_000, cover_fees=True)
    panel.next_step(page)
    fill_donor(page)
    panel.open_ticker(page)
    page.check("input[name=ticker_opt_in]")
    page.fill("input[name=message]", "For the library!")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "phone-filled-form")
    panel.pay(page)

    page.wait_for_selector("[data-donate-thanks]:not([hidden])", timeout=10_000)
    assert page.text_content("[data-donate-thanks-heading]") == "Thank you, Grace!"
    assert page.evaluate("document.activeElement.matches('[data-donate-thanks-heading]')")
    page.wait_for_function(
        "() => document.querySelector('[data-donate-ticker-note]').textContent"
        " === 'You\\u2019re in the live ticker now.'",
        timeout=10_000,
    )
    page.wait_for_selector('[data-live="ticker"] li.donate-ticker-mine')
    assert page.text_content('[data-live="ticker"] li.donate-ticker-mine .live-name') == "Grace"
    screenshot(page, "phone-thank-you-in-the-ticker")
    donation = Donation.objects.get()
    assert (donation.status, donation.amount_minor, donation.refcode, donation.ticker_opt_in) == (
        "succeeded",
        5_181,
        "sms-7",
        True,
    )

    page.click("[data-donate-again]")
    assert page.is_visible("[data-donate-form]")
    assert panel.current_step(page) == 1
    assert page.get_attribute("button[data-amount-minor='5000']", "aria-pressed") == "false"


def test_without_ticker_opt_in_the_thank_you_promises_no_ticker(
    live_server, simulated_settings, browser, screenshot
):
    event = EventFactory(status="live", suggested_amounts=[2_500])
    page = browser.new_page(**PHONE)
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    panel.choose(page, amount_minor=2_500)
    panel.next_step(page)
    fill_donor(page)
    panel.pay(page)

    page.wait_for_selector("[data-donate-thanks]:not([hidden])", timeout=10_000)
    screenshot(page, "thank-you-without-ticker")
    assert page.is_hidden("[data-donate-ticker-note]")
    assert event_tally(event_id=event.pk).raised_minor == 2_500


def test_a_refusal_is_shown_inline_on_the_field_and_nothing_is_created(
    live_server, simulated_settings, browser, screenshot
):
    event = EventFactory(status="live", suggested_amounts=[2_500])
    page = browser.new_context(**LAPTOP).new_page()
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    page.fill("input[name=custom_amount]", "3")
    page.click("[data-donate-next]")

    assert page.text_content("[data-donate-error]") == "The minimum donation is $5."
    assert page.get_attribute("input[name=custom_amount]", "aria-invalid") == "true"
    described = page.get_attribute("input[name=custom_amount]", "aria-describedby")
    assert page.text_content(f"#{described}") == "The minimum donation is $5."
    assert panel.current_step(page) == 1
    page.fill("input[name=custom_amount]", "30")
    panel.next_step(page)
    page.fill("input[name=email]", "grace@example.com")
    page.click("[data-donate-next]")
    page.wait_for_function(
        "() => document.querySelector('[data-donate-error]').textContent.length > 0"
    )
    assert page.text_content("[data-donate-error]") == "Your first and last name are required."
    assert page.get_attribute("input[name=first_name]", "aria-invalid") == "true"
    described = page.get_attribute("input[name=first_name]", "aria-describedby")
    assert page.text_content(f"#{described}") == "Your first and last name are required."
    assert page.evaluate("document.activeElement.name") == "first_name"
    assert panel.current_step(page) == 2
    screenshot(page, "laptop-error-on-the-name-field")
    assert Donation.objects.count() == 0


def test_make_it_monthly_is_shown_only_when_the_campaign_offers_it(
    live_server, simulated_settings, browser, screenshot
):
    plain = EventFactory(status="live")
    monthly = EventFactory(status="live", campaign=CampaignFactory(monthly_enabled=True))
    page = browser.new_page(**PHONE)

    page.goto(f"{live_server.url}{plain.get_absolute_url()}")
    assert page.locator("input[name=monthly]").count() == 0
    page.goto(f"{live_server.url}{monthly.get_absolute_url()}")
    panel.choose(page, amount_minor=2_500, monthly=True)
    assert page.text_content("[data-donate-total]") == "Total $25 each month"
    assert page.text_content("[data-donate-next]") == "Continue with $25 monthly"
    panel.next_step(page)
    fill_donor(page)
    screenshot(page, "monthly-filled-form")
    panel.pay(page)

    page.wait_for_selector("[data-donate-thanks]:not([hidden])", timeout=10_000)
    assert page.text_content("[data-donate-thanks-text]").startswith(
        "Your monthly gift of $25 is set up."
    )
    gift = MonthlyGift.objects.get()
    assert (gift.status, gift.first_donation.status) == ("active", "succeeded")


def test_a_keyboard_user_tabs_to_an_amount_and_selects_it_with_space_or_enter(
    live_server, simulated_settings, browser, screenshot
):
    event = EventFactory(status="live", suggested_amounts=[2_500, 5_000])
    page = browser.new_context(**LAPTOP).new_page()
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    # Start just before the amounts, as a keyboard user reaching the panel would.
    page.evaluate("document.querySelector('[data-donate] h2').setAttribute('tabindex', '-1')")
    page.focus("[data-donate] h2")

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.amountMinor") == "2500"
    page.keyboard.press("Space")
    assert page.get_attribute("button[data-amount-minor='2500']", "aria-pressed") == "true"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    screenshot(page, "keyboard-selected-amount", full_page=False)

    assert page.get_attribute("button[data-amount-minor='5000']", "aria-pressed") == "true"
    assert page.get_attribute("button[data-amount-minor='2500']", "aria-pressed") == "false"
    assert page.text_content("[data-donate-total]") == "Total $50"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
