"""The donate panel speaking the money rules and the room's asks, on a phone, in headless
Chromium with the simulated provider: a pinned ask pre-selects its amount (its text in step 1)
and the gift carries its tag; the itemized details the server asks for are marked required in
step 2; a gift past the election's limit is offered the room left and, with the donor's
consent, splits the rest to the general election (one donation, two designations), said on
the thank-you; axe-core on the panel showing the offer."""

from __future__ import annotations

import pytest

from donations.compliance.identity import donor_key
from donations.donors import DonorDetails
from donations.models import Donation
from engagement.asks import create_ask, run_ask
from events.models import EventStatus
from tests.axe import assert_accessible
from tests.browser import PHONE
from tests.donations import panel
from tests.donations.factories import DonationFactory
from tests.factories import CampaignFactory, ElectionFactory, EventFactory

pytestmark = pytest.mark.browser

ADA = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
HOME = {"postal_code": "20500", "country": "US"}
ITEMIZED = {"address_line1": "1 Analytical Way", "city": "Washington", "employer": "Babbage & Co",
            "occupation": "Mathematician"}  # fmt: skip


def test_an_ask_itemization_and_the_limits_offer_on_a_phone(platform, browser, screenshot):
    campaign = CampaignFactory(kind="federal_candidate", paid_for_by="Paid for by Alpha")
    primary = ElectionFactory(campaign=campaign, kind="primary", days=30)
    general = ElectionFactory(campaign=campaign, kind="general", days=150)
    event = EventFactory(campaign=campaign, status=EventStatus.LIVE, suggested_amounts=[2_500])
    # Ada gave $3,000 to the primary already: $500 of room left of the $3,500 limit.
    details = {**ADA, **HOME, **ITEMIZED}
    DonationFactory(
        event=event, gift_minor=300_000, status="succeeded", succeeded_seen=True,
        net_minor=300_000, election=primary, election_minor=300_000,
        donor_key=donor_key(DonorDetails(**details)), **details,
    )  # fmt: skip
    ask = create_ask(event_id=event.pk, text="Give $250 now: match ends at 9 pm",
                     amount_minor=25_000, tag="ask-250", by_user_id=None)  # fmt: skip
    run_ask(event_id=event.pk, ask_id=ask.pk, action="pin", by_user_id=None)

    page = browser.new_context(**PHONE).new_page()
    page.goto(platform.url(event.get_absolute_url()))
    page.wait_for_selector("[data-donate-ask]:not([hidden])")
    assert page.text_content("[data-donate-ask]") == "Give $250 now: match ends at 9 pm"
    assert page.input_value("input[name=custom_amount]") == "250"  # the ask's amount
    assert page.text_content("[data-donate-next]") == "Continue with $250"

    # Itemization: $3,250 this cycle passes $200, and the address and employer were optional.
    panel.next_step(page)
    assert page.get_attribute("input[name=employer]", "required") is None
    panel.fill_details(page, email=ADA["email"], first="Ada", last="Lovelace", **HOME)
    panel.next_step(page)
    for box in page.query_selector_all("input[name=attestation]"):
        box.check()
    page.click("[data-donate-submit]")
    page.wait_for_selector("[data-donate-step='2']:not([hidden]) [aria-invalid=true]")
    assert page.text_content("[data-donate-error]").startswith("Federal law asks us for the name")
    for name in ITEMIZED:
        assert page.get_attribute(f"input[name={name}]", "aria-required") == "true"
    assert page.evaluate("() => document.activeElement.name") == "address_line1"
    for name, value in ITEMIZED.items():
        page.fill(f"input[name={name}]", value)
    page.click("[data-donate-next]")
    page.click("[data-donate-submit]")
    page.wait_for_selector(panel.THANKS_OR_ERROR)
    assert page.text_content("[data-donate-error]") == ""
    answered = Donation.objects.get(gift_minor=25_000)
    assert (answered.ask_tag, answered.employer) == ("ask-250", "Babbage & Co")

    # The limit: $250 of room left in the primary; $600 is offered the room, or the split.
    page.click("[data-donate-again]")
    panel.choose(page, amount_minor=None, custom="600")
    panel.next_step(page)
    panel.fill_details(page, email=ADA["email"], first="Ada", last="Lovelace", **HOME, **ITEMIZED)
    panel.next_step(page)
    for box in page.query_selector_all("input[name=attestation]"):
        box.check()
    page.click("[data-donate-submit]")
    page.wait_for_selector("[data-donate-limit]:not([hidden])")
    assert page.text_content("[data-donate-limit-room]") == "Give the $250 of room left"
    assert page.text_content("[data-donate-limit-consent-text]") == (
        f"Designate the remaining $350 to the {general.name}"
    )
    screenshot(page, "phone-limit-offer")
    assert_accessible(page, include="[data-donate]")

    page.click("[data-donate-limit-split-button]")  # no consent ticked: asked, nothing sent
    page.wait_for_selector("input[name=split_consent][aria-invalid=true]")
    assert Donation.objects.count() == 2
    page.check("input[name=split_consent]")
    page.click("[data-donate-limit-split-button]")
    page.wait_for_selector(panel.THANKS_OR_ERROR)
    assert page.text_content("[data-donate-error]") == ""
    assert page.text_content("[data-donate-thanks-text]").endswith(
        f"It is designated $250 to the {primary.name} and $350 to the {general.name}."
    )
    split = Donation.objects.get(gift_minor=60_000)
    assert (split.status, split.amount_minor, split.ask_tag) == ("succeeded", 60_000, "ask-250")
    parts = (split.election_id, split.election_minor, split.split_election_id, split.split_minor)
    assert parts == (primary.pk, 25_000, general.pk, 35_000)
    assert Donation.objects.count() == 3
