"""Monthly giving with the simulated provider: the same shape as Stripe's, without Stripe."""

from __future__ import annotations

import pytest

from donations.models import Donation, MonthlyGift
from donations.selectors import event_tally
from donations.services import renew_simulated_gift
from tests.donations.support import post_start, start_payload

pytestmark = pytest.mark.usefixtures("simulated_settings")


def give_monthly(client, event, **overrides):
    started = post_start(client, event, start_payload(event, monthly=True, **overrides)).json()
    confirmed = client.post(
        "/donations/simulated/confirm/",
        data={"donation_id": started["donation_id"], "client_secret": started["client_secret"]},
        content_type="application/json",
    )
    assert confirmed.status_code == 200, confirmed.content
    return started


def test_a_simulated_monthly_gift_counts_its_first_installment_once(client, monthly_event):
    started = give_monthly(client, monthly_event, amount_minor=4_000)

    gift = MonthlyGift.objects.get()
    donation = Donation.objects.get()
    assert (started["provider"], started["interval"]) == ("simulated", "month")
    assert (gift.status, gift.first_donation_id, donation.status, donation.invoice_id) == (
        "active",
        donation.pk,
        "succeeded",
        gift.subscription_id.replace("sim_sub_", "sim_in_"),
    )
    tally = event_tally(event_id=monthly_event.pk)
    assert (tally.raised_minor, tally.donations) == (4_000, 1)


def test_a_simulated_second_month_adds_one_donation_however_often_it_is_recorded(
    client, monthly_event
):
    give_monthly(client, monthly_event, amount_minor=4_000)
    gift = MonthlyGift.objects.get()

    first = renew_simulated_gift(monthly_gift_id=gift.pk, month=2)
    again = renew_simulated_gift(monthly_gift_id=gift.pk, month=2)

    assert first is not None
    assert again is not None
    assert (first.pk, first.status, first.net_minor) == (again.pk, "succeeded", 4_000)
    assert Donation.objects.count() == 2
    assert event_tally(event_id=monthly_event.pk).raised_minor == 8_000


def test_a_declined_simulated_monthly_gift_ends_and_charges_no_later_month(client, monthly_event):
    started = post_start(client, monthly_event, start_payload(monthly_event, monthly=True)).json()
    declined = client.post(
        "/donations/simulated/confirm/",
        data={
            "donation_id": started["donation_id"],
            "client_secret": started["client_secret"],
            "outcome": "decline",
        },
        content_type="application/json",
    )
    gift = MonthlyGift.objects.get()

    assert declined.status_code == 402
    assert renew_simulated_gift(monthly_gift_id=gift.pk, month=2) is None
    gift.refresh_from_db()
    assert (gift.status, Donation.objects.get().status) == ("ended", "failed")
    assert event_tally(event_id=monthly_event.pk).raised_minor == 0
