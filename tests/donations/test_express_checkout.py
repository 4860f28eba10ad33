"""The Express Checkout (wallet) path: the browser starts the donation with what the wallet
gave (billingDetails name and email), then confirms like the Payment Element does."""

from __future__ import annotations

from donations.models import Donation
from tests.donations.support import post_start, start_payload
from tests.factories import EventFactory


def wallet_body(event, **overrides):
    """What donate.js sends from the expressCheckout `confirm` event: the wallet's name split
    into first and last, its email, the panel's amount and choices; no address typed."""
    body = start_payload(
        event,
        email="Grace.Hopper@Example.com",
        first_name="Grace Brewster",
        last_name="Hopper",
        amount_minor=5_000,
        cover_fees=True,
        ticker_opt_in=True,
        display_name="",
        message="",
        refcode="wallet-1",
        monthly=False,
        express=True,
    )
    body.update(overrides)
    return body


def test_the_start_endpoint_accepts_what_the_wallet_path_sends(client, stripe_settings):
    event = EventFactory(status="live")

    response = post_start(client, event, wallet_body(event))

    assert response.status_code == 200, response.content
    donation = Donation.objects.get()
    assert (donation.email, donation.first_name, donation.last_name, donation.amount_minor) == (
        "grace.hopper@example.com",
        "Grace Brewster",
        "Hopper",
        5_181,
    )
    assert response.json()["client_secret"] == "pi_fake_000001_secret_fake"
    assert response.json()["ticker"] == {
        "name": "Grace Brewster",
        "amount": 5_181,
        "message": "",
        "masked": False,
    }


def test_a_wallet_without_a_name_is_refused_on_the_name_field(client, stripe_settings):
    event = EventFactory(status="live")

    response = post_start(client, event, wallet_body(event, first_name="", last_name=""))

    assert response.status_code == 400
    assert response.json() == {
        "error": "Your first and last name are required.",
        "field": "first_name",
    }
    assert Donation.objects.count() == 0
    assert stripe_settings.requests == []
