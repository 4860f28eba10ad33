from __future__ import annotations

import json
import re
import uuid

from django.core import mail
from django.test import Client

from donations.models import Donation
from donations.selectors import event_tally
from tests.donations.support import post_start, start_payload
from tests.factories import EventFactory


def open_page(client: Client, event) -> tuple[str, dict]:
    page = client.get(f"/events/{event.slug}/").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    config = json.loads(
        re.search(r'<script id="donate-config" type="application/json">(.*?)</script>', page).group(
            1
        )
    )
    return csrf, config | {"page": page}


def test_the_event_page_says_payments_are_simulated(simulated_settings):
    event = EventFactory(status="live", suggested_amounts=[2_500, 5_000])

    _, config = open_page(Client(), event)

    assert "Simulated payments — no real money." in config["page"]
    assert 'data-amount-minor="2500"' in config["page"]
    assert config["simulated"] is True
    assert config["minMinor"] == 500


def test_an_ended_event_has_no_donate_panel(simulated_settings):
    event = EventFactory(status="ended")

    page = Client().get(f"/events/{event.slug}/").content.decode()

    assert "donate-config" not in page


def test_a_donor_gives_through_the_page_with_the_simulated_provider(simulated_settings):
    event = EventFactory(status="live")
    client = Client(enforce_csrf_checks=True)
    csrf, config = open_page(client, event)
    body = {
        "attempt_key": str(uuid.uuid4()),
        "page_token": config["pageToken"],
        "amount_minor": 5_000,
        "currency": "usd",
        "cover_fees": True,
        "email": "Grace@Example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
        "ticker_opt_in": True,
        "message": "<b>Onward</b>",
    }

    started = client.post(
        f"/donations/events/{event.slug}/start/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert started.status_code == 200
    confirmed = client.post(
        "/donations/simulated/confirm/",
        data=json.dumps(
            {
                "donation_id": started.json()["donation_id"],
                "client_secret": started.json()["client_secret"],
            }
        ),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )

    assert confirmed.status_code == 200
    donation = Donation.objects.get()
    assert (donation.status, donation.amount_minor, donation.email, donation.provider) == (
        "succeeded",
        5_181,
        "grace@example.com",
        "simulated",
    )
    tally = event_tally(event_id=event.pk)
    assert (tally.raised_minor, tally.donors, tally.recent[0].message) == (
        5_181,
        1,
        "<b>Onward</b>",
    )
    assert len(mail.outbox) == 1


def test_the_simulated_confirm_needs_the_client_secret(simulated_settings):
    event = EventFactory(status="live")
    client = Client()
    started = post_start(client, event, start_payload(event))

    response = client.post(
        "/donations/simulated/confirm/",
        data=json.dumps({"donation_id": started.json()["donation_id"], "client_secret": "guess"}),
        content_type="application/json",
    )

    assert response.status_code == 404
    assert Donation.objects.get().status == "pending"


def test_there_is_no_simulated_confirm_with_stripe_configured(stripe_settings):
    response = Client().post(
        "/donations/simulated/confirm/", data="{}", content_type="application/json"
    )

    assert response.status_code == 404
