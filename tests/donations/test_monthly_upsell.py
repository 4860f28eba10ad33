"""The thank-you's one-tap "Make it monthly" for a one-time gift, with the simulated provider:
the same gift monthly, the same donor, once; refused (and nothing created) for a monthly gift,
a campaign without monthly giving, an unpaid gift or a key that is not the donor's."""

from __future__ import annotations

import uuid

import pytest

from donations.models import Donation, MonthlyGift
from tests.donations.support import post_start, start_payload

pytestmark = pytest.mark.usefixtures("simulated_settings")

UPSELL = "/donations/monthly-upsell/"


def give(client, event, *, confirm=True, **overrides):
    payload = start_payload(event, **overrides)
    started = post_start(client, event, payload).json()
    if confirm:
        confirmed = client.post(
            "/donations/simulated/confirm/",
            data={"donation_id": started["donation_id"], "client_secret": started["client_secret"]},
            content_type="application/json",
        )
        assert confirmed.status_code == 200, confirmed.content
    return started, payload["attempt_key"]


def upsell(client, reference, attempt_key):
    return client.post(
        UPSELL,
        data={"reference": reference, "attempt_key": str(attempt_key)},
        content_type="application/json",
    )


def state():
    return (Donation.objects.count(), MonthlyGift.objects.count())


def test_the_start_answer_carries_the_reference_and_the_share_refcode(client, monthly_event):
    started, _key = give(client, monthly_event, confirm=False)
    donation = Donation.objects.get()
    assert started["reference"] == donation.reference
    assert started["share_refcode"] == "share-" + donation.reference[3:].lower()
    assert str(donation.pk) not in started["reference"][3:]


def test_a_one_time_gift_becomes_a_monthly_gift_of_the_same_amount_and_donor(client, monthly_event):
    started, key = give(client, monthly_event, amount_minor=4_000, refcode="sms-9")

    answer = upsell(client, started["reference"], key)
    assert answer.status_code == 200, answer.content
    monthly = answer.json()
    assert (monthly["interval"], monthly["gift_minor"], monthly["provider"]) == (
        "month",
        4_000,
        "simulated",
    )
    confirmed = client.post(
        "/donations/simulated/confirm/",
        data={"donation_id": monthly["donation_id"], "client_secret": monthly["client_secret"]},
        content_type="application/json",
    )
    assert confirmed.status_code == 200
    original = Donation.objects.get(pk=started["donation_id"])
    first = Donation.objects.get(pk=monthly["donation_id"])
    gift = MonthlyGift.objects.get()
    assert (gift.status, gift.first_donation_id, gift.amount_minor) == ("active", first.pk, 4_000)
    assert (first.status, first.email, first.first_name, first.refcode) == (
        "succeeded",
        original.email,
        original.first_name,
        "sms-9",
    )
    assert first.reference != original.reference


def test_a_second_tap_finds_the_same_monthly_gift(client, monthly_event):
    started, key = give(client, monthly_event)
    first = upsell(client, started["reference"], key).json()
    again = upsell(client, started["reference"], key).json()
    assert first["donation_id"] == again["donation_id"]
    assert state() == (2, 1)


def test_a_monthly_gift_cannot_be_made_monthly_again(client, monthly_event):
    started, key = give(client, monthly_event, monthly=True)
    before = state()
    answer = upsell(client, started["reference"], key)
    assert (answer.status_code, answer.json()["error"]) == (
        409,
        "This gift is monthly already. Thank you!",
    )
    assert state() == before


def test_a_campaign_without_monthly_giving_refuses_the_upsell(client, event):
    started, key = give(client, event)
    before = state()
    answer = upsell(client, started["reference"], key)
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "This campaign does not offer monthly giving.", "field": "monthly"},
    )
    assert state() == before


def test_an_unpaid_gift_cannot_be_made_monthly(client, monthly_event):
    started, key = give(client, monthly_event, confirm=False)
    before = state()
    answer = upsell(client, started["reference"], key)
    assert answer.status_code == 409
    assert state() == before


def test_someone_else_with_only_the_reference_cannot_start_the_upsell(client, monthly_event):
    started, _key = give(client, monthly_event)
    before = state()
    assert upsell(client, started["reference"], uuid.uuid4()).status_code == 404
    assert upsell(client, "PC-AAAAAAAAAA", uuid.uuid4()).status_code == 404
    bad = client.post(UPSELL, data={"reference": 1}, content_type="application/json")
    assert bad.status_code == 400
    assert state() == before
