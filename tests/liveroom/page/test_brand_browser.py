"""The campaign's brand on its event page in headless Chromium against the real platform: its
name and logo (served by us and drawn), its colour on the donate button and the thermometer,
its "Paid for by" box at the foot and on the thank-you after a (simulated) gift, and
Pledgecast only as a small "powered by"."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from events.models import Event, EventStatus
from tests.browser import LAPTOP, PHONE
from tests.donations import panel
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.browser

BRAND = "rgb(122, 31, 43)"  # #7a1f2b
WHITE = "rgb(255, 255, 255)"


def _branded_event() -> Event:
    logo = io.BytesIO()
    Image.new("RGB", (120, 40), (122, 31, 43)).save(logo, "PNG")
    campaign = CampaignFactory(
        name="Alpha for Congress",
        logo=SimpleUploadedFile("logo.png", logo.getvalue(), content_type="image/png"),
        brand_color="#7a1f2b",
        brand_text_color="#ffffff",
        paid_for_by="Paid for by Alpha for Congress",
    )
    return EventFactory(campaign=campaign, status=EventStatus.LIVE, suggested_amounts=[2_500])


def _style(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")


@pytest.mark.parametrize("device", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_page_wears_the_campaign_brand_and_its_disclaimer(
    platform, browser, screenshot, device
):
    event = _branded_event()
    page = browser.new_context(**device).new_page()
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-brand-logo]');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=10_000,
    )

    assert page.text_content("[data-brand-name]") == "Alpha for Congress"
    assert page.eval_on_selector("[data-brand-logo]", "i => i.naturalWidth") == 120
    for button in ("[data-donate-next]", "[data-donate-submit]", "[data-donate-bar-button]"):
        assert _style(page, button, "backgroundColor") == BRAND
        assert _style(page, button, "color") == WHITE
    assert _style(page, "[data-live='bar']", "backgroundColor") == BRAND
    assert page.is_visible("[data-paid-for-by]")
    assert page.text_content("[data-paid-for-by]") == "Paid for by Alpha for Congress"
    body = page.inner_text("body")
    assert "Live on Pledgecast" not in body
    assert body.count("Pledgecast") == 1
    assert "Powered by Pledgecast" in body
    screenshot(page, f"brand-{'phone' if device is PHONE else 'laptop'}")


def test_the_thank_you_after_a_gift_carries_the_disclaimer(platform, browser, screenshot):
    event = _branded_event()
    page = browser.new_context(**LAPTOP).new_page()
    page.goto(platform.url(event.get_absolute_url()))
    assert page.is_hidden("[data-donate-paid-for]")

    panel.choose(page, amount_minor=2_500)
    assert _style(page, "button[data-amount-minor='2500']", "backgroundColor") == BRAND
    panel.next_step(page)
    panel.fill_details(page)
    panel.pay(page)

    assert page.is_visible("[data-donate-paid-for]")
    assert page.text_content("[data-donate-paid-for]") == "Paid for by Alpha for Congress"
    assert _style(page, "[data-donate-again]", "backgroundColor") == BRAND
    screenshot(page, "brand-thank-you")


def test_a_brand_colour_too_faint_for_text_fills_buttons_but_amount_text_stays_ink(
    platform, browser
):
    campaign = CampaignFactory(brand_color="#d9534f", brand_text_color="#000000", political=False)
    event = EventFactory(campaign=campaign, status=EventStatus.LIVE, suggested_amounts=[2_500])
    page = browser.new_context(**LAPTOP).new_page()
    page.goto(platform.url(event.get_absolute_url()))

    amount = "button[data-amount-minor='2500']"
    assert _style(page, amount, "color") == "rgb(26, 29, 36)"  # --ink
    assert _style(page, amount, "borderTopColor") == "rgb(217, 83, 79)"
    assert _style(page, "[data-donate-submit]", "backgroundColor") == "rgb(217, 83, 79)"
    assert _style(page, "[data-donate-submit]", "color") == "rgb(0, 0, 0)"
    assert page.is_hidden("[data-paid-for-by]")
