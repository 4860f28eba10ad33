"""Prohibited sources at checkout: an address outside the United States needs the donor's US
passport number or is refused, per the campaign; a political committee refuses a nameless
gift over $50. Each refusal names its field and creates nothing."""

from __future__ import annotations

import pytest

from donations.models import Donation
from tests.donations.support import post_start, start_payload
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.usefixtures("stripe_settings")

ABROAD = {
    "address_line1": "1 rue de Rivoli",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}


def event_of(**campaign):
    campaign.setdefault("paid_for_by", "Paid for by Alpha")
    return EventFactory(status="live", campaign=CampaignFactory(**campaign))


def start(client, event, **fields):
    return post_start(client, event, start_payload(event, **fields))


def refused(response, field, message, stripe_settings, **extra):
    assert response.status_code == 400, response.content
    assert response.json() == {"error": message, "field": field, **extra}
    assert Donation.objects.count() == 0
    assert stripe_settings.requests == []
    return True


def test_a_gift_from_abroad_to_a_candidate_needs_a_us_passport_number(client, stripe_settings):
    event = event_of(kind="federal_candidate")

    response = start(client, event, **ABROAD)

    assert refused(
        response,
        "us_passport_number",
        "A gift from an address outside the United States needs your US passport number: US "
        "law bars gifts from foreign nationals.",
        stripe_settings,
        requires=["us_passport_number"],
    )


@pytest.mark.parametrize("number", ["12345", "AB1234567", "1234567890", "A1234567"])
def test_a_passport_number_in_another_format_is_refused(client, stripe_settings, number):
    event = event_of(kind="pac")

    response = start(client, event, **ABROAD, us_passport_number=number)

    assert refused(
        response,
        "us_passport_number",
        "Enter your US passport number as printed: nine characters, such as 123456789 or "
        "A12345678.",
        stripe_settings,
    )


def test_a_gift_from_abroad_with_a_passport_number_is_taken_and_keeps_it(client):
    event = event_of(kind="federal_candidate")

    response = start(client, event, **ABROAD, us_passport_number="a 1234 5678")

    assert response.status_code == 200, response.content
    assert Donation.objects.get().us_passport_number == "A12345678"


def test_a_campaign_that_refuses_gifts_from_abroad_says_so(client, stripe_settings):
    event = event_of(kind="federal_candidate", foreign_address_policy="refuse")

    response = start(client, event, **ABROAD, us_passport_number="123456789")

    assert refused(
        response,
        "country",
        "This campaign can take gifts only from addresses in the United States.",
        stripe_settings,
    )


def test_a_us_territory_is_not_abroad(client):
    event = event_of(kind="federal_candidate")

    response = start(client, event, **{**ABROAD, "country": "PR", "postal_code": "00901"})

    assert response.status_code == 200, response.content


def test_a_nonprofit_takes_gifts_from_abroad(client):
    event = event_of(kind="nonprofit", ein="12-3456789", paid_for_by="")

    assert start(client, event, **ABROAD).status_code == 200


def test_a_candidate_refuses_a_nameless_gift_over_50_dollars(client, stripe_settings):
    event = event_of(kind="federal_candidate", require_name=False)

    response = start(client, event, amount_minor=5_001, first_name="", last_name="")

    assert refused(
        response,
        "first_name",
        "Gifts over $50 need your first and last name: the law does not allow anonymous "
        "contributions over $50.",
        stripe_settings,
    )


def test_a_nameless_gift_of_50_dollars_or_a_named_gift_is_taken(client):
    event = event_of(kind="federal_candidate", require_name=False)

    assert start(client, event, amount_minor=5_000, first_name="", last_name="").status_code == 200
    assert start(client, event, amount_minor=9_000, anonymous=True).status_code == 200


def test_a_nonprofit_takes_a_nameless_gift_of_any_size(client):
    event = event_of(kind="nonprofit", ein="12-3456789", paid_for_by="", require_name=False)

    response = start(client, event, amount_minor=50_000, first_name="", last_name="")

    assert response.status_code == 200, response.content
