"""The live ticker in headless Chromium against the real platform: a donor who types a message
is asked nothing silently (the box ticks itself and the panel previews the line), and another
attendee's ticker then shows exactly the previewed line; unticking keeps the gift out of the
ticker and says so; staff hide a line on the dashboard and it leaves an attendee's open page
within 2 s."""

from __future__ import annotations

import time

import pytest

from donations.models import Donation
from events.models import Event, EventStatus
from tests.browser import LAPTOP, PHONE
from tests.donations import panel
from tests.donations.factories import DonationFactory
from tests.factories import CampaignFactory, EventFactory
from tests.support.stripe import receive, succeeded

pytestmark = pytest.mark.browser

TICKER_NAMES = "Array.from(document.querySelectorAll('[data-live=\"ticker\"] .live-name'))"


def _attendee(browser, platform, event: Event, device: dict):
    page = browser.new_context(**device).new_page()
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_selector("[data-live-room][data-version]")  # the live room is connected
    return page


def _fill_donor(page) -> None:
    """Steps 1 and 2, the ticker's fields open."""
    panel.choose(page, amount_minor=2_500)
    panel.next_step(page)
    panel.fill_details(
        page, address_line1="1 Main St", city="Columbus", region="OH", postal_code="43215"
    )
    panel.open_ticker(page)


def _donate(page) -> float:
    return panel.pay(page)


def _address_event() -> Event:
    campaign = CampaignFactory(require_address=True)
    return EventFactory(campaign=campaign, status=EventStatus.LIVE, suggested_amounts=[2_500])


def test_typing_a_message_ticks_the_ticker_and_the_line_shows_as_previewed(
    platform, browser, screenshot
):
    event = _address_event()
    donor = _attendee(browser, platform, event, PHONE)
    other = _attendee(browser, platform, event, LAPTOP)
    _fill_donor(donor)
    assert donor.is_hidden("[data-donate-ticker-preview]")
    assert not donor.is_checked("input[name=ticker_opt_in]")

    donor.type("input[name=message]", "Go team!")

    assert donor.is_checked("input[name=ticker_opt_in]")  # asked nothing, dropped nothing
    assert donor.is_visible("[data-donate-ticker-preview]")
    preview = donor.text_content("[data-ticker-preview-line]")
    assert preview == "Ada in Columbus, OH — $25 — “Go team!”"
    screenshot(donor, "ticker-preview-phone")

    given = _donate(donor)
    assert donor.text_content("[data-donate-ticker-note]") in (
        "Your gift will appear in the live ticker as: Ada in Columbus, OH — $25 — “Go team!”.",
        "You\u2019re in the live ticker now.",
    )
    other.wait_for_function(
        f"() => {TICKER_NAMES}.length === 1",
        timeout=max(1, (given + 2.0 - time.monotonic()) * 1000),
    )
    line = other.evaluate(
        """() => {
            const li = document.querySelector('[data-live="ticker"] li');
            return [".live-name", ".live-amount", ".live-message"]
                .map((s) => li.querySelector(s).textContent).join(" — ");
        }"""
    )
    assert line.replace("— Go team!", "— “Go team!”") == preview
    screenshot(other, "ticker-line-as-previewed")
    donation = Donation.objects.get()
    assert (donation.ticker_opt_in, donation.display_name, donation.message) == (
        True, "", "Go team!"
    )  # fmt: skip


def test_a_donor_is_told_their_message_shows_masked_and_the_ticker_masks_it(platform, browser):
    event = _address_event()
    donor = _attendee(browser, platform, event, LAPTOP)
    other = _attendee(browser, platform, event, PHONE)
    _fill_donor(donor)
    donor.type("input[name=message]", "shit yeah")
    assert "profanity list show as ****" in donor.text_content("[data-ticker-preview-rules]")

    given = _donate(donor)

    assert "Some words are masked (****)" in donor.text_content("[data-donate-ticker-note]")
    other.wait_for_function(
        "() => document.querySelector('[data-live=\"ticker\"] .live-message')?.textContent"
        " === '**** yeah'",
        timeout=max(1, (given + 2.0 - time.monotonic()) * 1000),
    )
    assert Donation.objects.get().message == "shit yeah"  # kept in the ledger for staff


def test_a_donor_who_unticks_is_told_and_stays_out_of_the_ticker(platform, browser):
    event = _address_event()
    donor = _attendee(browser, platform, event, LAPTOP)
    other = _attendee(browser, platform, event, PHONE)
    _fill_donor(donor)
    donor.type("input[name=display_name]", "Ada L.")
    assert donor.is_checked("input[name=ticker_opt_in]")

    donor.uncheck("input[name=ticker_opt_in]")
    donor.type("input[name=message]", " More")  # typing again does not tick it back

    assert not donor.is_checked("input[name=ticker_opt_in]")
    assert donor.text_content("[data-ticker-preview-lead]") == "Not in the ticker:"
    _donate(donor)
    assert donor.is_hidden("[data-donate-ticker-note]")
    other.wait_for_function(
        "() => document.querySelector('[data-live=\"donors\"]').textContent === '1'"
    )
    assert other.evaluate(f"{TICKER_NAMES}.length") == 0
    assert Donation.objects.get().ticker_opt_in is False


def test_staff_hide_a_line_and_it_leaves_an_attendees_page_within_two_seconds(
    platform, browser, screenshot
):
    event = EventFactory(status=EventStatus.LIVE)
    kept = DonationFactory(event=event, ticker_opt_in=True, display_name="Ada")
    receive(succeeded(kept))
    troll = DonationFactory(event=event, ticker_opt_in=True, display_name="Troll", message="spam")
    receive(succeeded(troll))
    attendee = _attendee(browser, platform, event, PHONE)
    attendee.wait_for_function(
        f"() => {TICKER_NAMES}.map((n) => n.textContent).join() === 'Troll,Ada'"
    )
    staff = platform.staff_dashboard(browser, event, role="manager")
    row = staff.locator(f"#recent-donations tr[data-donation='{troll.pk}']")
    assert "Troll — $25 — “spam”" in row.text_content()

    row.locator("[data-ticker-action=hide]").click()
    hidden_at = time.monotonic()

    attendee.wait_for_function(
        f"() => {TICKER_NAMES}.map((n) => n.textContent).join() === 'Ada'",
        timeout=max(1, (hidden_at + 2.0 - time.monotonic()) * 1000),
    )
    staff.wait_for_selector(f"tr[data-donation='{troll.pk}'] [data-ticker-action=show]")
    screenshot(staff, "dashboard-ticker-line-hidden")
    screenshot(attendee, "attendee-ticker-without-the-hidden-line")
    assert Donation.objects.get(pk=troll.pk).ticker_hidden is True


def test_a_viewer_member_sees_the_lines_but_no_button(platform, browser):
    event = EventFactory(status=EventStatus.LIVE)
    donation = DonationFactory(event=event, ticker_opt_in=True, display_name="Ada")
    receive(succeeded(donation))

    staff = platform.staff_dashboard(browser, event, role="viewer")

    assert "Ada — $25" in staff.text_content("#recent-donations")
    assert staff.locator("[data-ticker-action]").count() == 0
