"""The donate panel in headless Chromium, with the simulated provider: the whole flow."""

from __future__ import annotations

import pytest
from django.db import connections

from donations.models import Donation
from donations.selectors import event_tally
from tests.factories import EventFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def page(monkeypatch, live_server, simulated_settings):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are plain
    # synchronous code (Django's documented switch for this case).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        yield chromium.new_page()
        chromium.close()
        connections.close_all()


def test_a_donor_gives_with_the_simulated_provider_and_sees_the_thank_you(page, live_server):
    event = EventFactory(status="live", suggested_amounts=[2_500, 5_000])
    page.goto(f"{live_server.url}{event.get_absolute_url()}?refcode=sms-7")

    assert page.text_content(".donate-simulated").startswith("Simulated payments — no real money.")
    page.click("button[data-amount-minor='5000']")
    page.check("input[name=cover_fees]")
    assert page.text_content("[data-donate-total]") == "Total $51.81 ($50 + $1.81 to cover fees)"
    page.fill("input[name=email]", "grace@example.com")
    page.fill("input[name=first_name]", "Grace")
    page.fill("input[name=last_name]", "Hopper")
    page.click("[data-donate-submit]")
    page.wait_for_selector("[data-donate-thanks]:not([hidden])", timeout=10_000)

    donation = Donation.objects.get()
    assert (donation.status, donation.amount_minor, donation.refcode) == (
        "succeeded",
        5_181,
        "sms-7",
    )
    assert event_tally(event_id=event.pk).raised_minor == 5_181


def test_a_refusal_is_shown_inline_and_nothing_is_created(page, live_server):
    event = EventFactory(status="live", suggested_amounts=[2_500])
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    page.fill("input[name=custom_amount]", "3")
    page.fill("input[name=email]", "grace@example.com")
    page.click("[data-donate-submit]")

    assert page.text_content("[data-donate-error]") == "The minimum donation is $5."
    page.fill("input[name=custom_amount]", "30")
    page.click("[data-donate-submit]")
    page.wait_for_function("document.querySelector('[data-donate-error]').textContent.length > 0")
    assert page.text_content("[data-donate-error]") == "Your first and last name are required."
    assert Donation.objects.count() == 0
