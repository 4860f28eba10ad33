from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from donations.models import Donation
from events.models import Attestation
from tests.donations.factories import DonationFactory
from tests.donations.support import post_start, start_payload
from tests.factories import EventFactory

pytestmark = pytest.mark.usefixtures("stripe_settings")


def refused(response, status, message, field=None):
    assert response.status_code == status, response.content
    assert response.json()["error"] == message
    if field is not None:
        assert response.json()["field"] == field
    return True


def test_it_creates_a_pending_donation_and_a_payment_intent(client, event, stripe_settings):
    response = post_start(client, event, start_payload(event, refcode="email-0612"))

    assert response.status_code == 200
    donation = Donation.objects.get()
    assert response.json() == {
        "donation_id": donation.pk,
        "reference": donation.reference,
        "share_refcode": donation.share_refcode,
        "provider": "stripe",
        "client_secret": "pi_fake_000001_secret_fake",
        "publishable_key": "pk_test_fake",
        "gift_minor": 2_500,
        "fee_minor": 0,
        "amount_minor": 2_500,
        "currency": "usd",
        "interval": "",
        "ticker": None,
        "designation": [],
    }
    assert (donation.status, donation.payment_id, donation.refcode) == (
        "pending",
        "pi_fake_000001",
        "email-0612",
    )
    [call] = stripe_settings.calls("POST", "/v1/payment_intents")
    assert call.params["amount"] == "2500"
    assert call.params["metadata[donation_id]"] == str(donation.pk)
    assert call.params["metadata[event_id]"] == str(event.pk)
    assert call.idempotency_key == f"pc-donation-{donation.attempt_key}"


def test_the_same_attempt_twice_makes_one_donation_and_one_payment_intent(
    client, event, stripe_settings
):
    body = start_payload(event)
    first = post_start(client, event, body)
    second = post_start(client, event, body)

    assert first.json() == second.json()
    assert Donation.objects.count() == 1
    assert len(stripe_settings.intents) == 1
    keys = {c.idempotency_key for c in stripe_settings.calls("POST", "/v1/payment_intents")}
    assert len(keys) == 1


def test_covering_the_fees_grosses_up_the_amount(client, event):
    response = post_start(client, event, start_payload(event, amount_minor=10_000, cover_fees=True))

    # (10000 + 30) / (1 - 0.029) = 10329.55… → 10330
    assert (response.json()["fee_minor"], response.json()["amount_minor"]) == (330, 10_330)


def test_it_refuses_less_than_the_campaign_minimum(client, event):
    response = post_start(client, event, start_payload(event, amount_minor=499))

    assert refused(response, 400, "The minimum donation is $5.", "amount_minor")
    assert Donation.objects.count() == 0


def test_it_refuses_more_than_the_campaign_maximum(client, event):
    event.campaign.max_donation_minor = 100_000
    event.campaign.save()

    response = post_start(client, event, start_payload(event, amount_minor=100_001))

    assert refused(response, 400, "The maximum donation is $1000.", "amount_minor")
    assert Donation.objects.count() == 0


def test_it_refuses_fractional_amounts(client, event):
    response = post_start(client, event, start_payload(event, amount_minor=25.5))

    assert refused(response, 400, "Enter the amount as a whole number of cents.", "amount_minor")
    assert Donation.objects.count() == 0


def test_it_refuses_another_currency(client, event):
    response = post_start(client, event, start_payload(event, currency="eur"))

    assert refused(response, 400, "Donations to this campaign are in USD.", "currency")
    assert Donation.objects.count() == 0


def test_it_refuses_a_missing_required_name(client, event):
    response = post_start(client, event, start_payload(event, last_name=""))

    assert refused(response, 400, "Your first and last name are required.", "first_name")
    assert Donation.objects.count() == 0


def test_it_refuses_a_missing_email(client, event):
    response = post_start(client, event, start_payload(event, email=""))

    assert refused(response, 400, "Your email address is required for your receipt.", "email")


def test_it_refuses_a_missing_employer_when_the_campaign_requires_it(client, event):
    event.campaign.require_employer = True
    event.campaign.save()

    response = post_start(client, event, start_payload(event))

    assert refused(
        response, 400, "Your employer is required (enter “None” if you have none).", "employer"
    )
    assert Donation.objects.count() == 0


def test_it_refuses_an_unticked_attestation(client, event):
    statement = Attestation.objects.create(campaign=event.campaign, text="I am a US citizen.")
    other = Attestation.objects.create(campaign=event.campaign, text="This is my own money.")

    response = post_start(client, event, start_payload(event, attestations=[statement.pk]))

    assert refused(response, 400, "Please tick each statement to confirm it.", "attestations")
    assert Donation.objects.count() == 0
    ok = post_start(client, event, start_payload(event, attestations=[statement.pk, other.pk]))
    assert ok.status_code == 200
    assert Donation.objects.get().attestations == [
        "I am a US citizen.",
        "This is my own money.",
    ]


def test_it_refuses_a_ticker_message_over_140_characters(client, event):
    response = post_start(client, event, start_payload(event, message="x" * 141))

    assert refused(response, 400, "Keep your message to 140 characters.", "message")


def test_it_refuses_a_gift_past_the_per_donor_limit_counting_earlier_gifts(client, event):
    event.campaign.per_donor_limit_minor = 330_000
    event.campaign.save()
    DonationFactory(
        event=event,
        email="ada@example.com",
        gift_minor=300_000,
        succeeded_seen=True,
        net_minor=300_000,
        status="succeeded",
    )

    response = post_start(client, event, start_payload(event, amount_minor=30_001))

    assert refused(
        response,
        400,
        "This would take you past this campaign's contribution limit: you can give at most "
        "$300 more (fees included).",
        "amount_minor",
    )
    assert Donation.objects.count() == 1


def test_covered_fees_count_toward_the_per_donor_limit(client, event):
    event.campaign.per_donor_limit_minor = 10_000
    event.campaign.save()

    response = post_start(client, event, start_payload(event, amount_minor=10_000, cover_fees=True))

    assert refused(
        response,
        400,
        "This would take you past this campaign's contribution limit: you can give at most "
        "$100 more (fees included).",
    )


def test_it_refuses_a_donation_once_the_giving_window_after_the_show_closed(
    client, stripe_settings
):
    event = EventFactory(
        status="ended", ended_at=timezone.now() - timedelta(days=30, seconds=1),
        giving_window_days=30,
    )  # fmt: skip

    response = post_start(client, event, start_payload(event))

    assert refused(response, 409, "Giving for this event has closed. Thank you for your support.")
    assert Donation.objects.count() == 0


def test_the_replay_page_takes_gifts_within_the_giving_window(client, stripe_settings):
    event = EventFactory(
        status="ended", ended_at=timezone.now() - timedelta(days=29), giving_window_days=30
    )

    response = post_start(client, event, start_payload(event))

    assert response.status_code == 200, response.content
    assert Donation.objects.get().event_id == event.pk


def test_it_refuses_a_donation_to_a_cancelled_event(client, stripe_settings):
    event = EventFactory(status="cancelled")

    response = post_start(client, event, start_payload(event))

    assert refused(response, 409, "This event was cancelled: it takes no donations.")
    assert Donation.objects.count() == 0


def test_it_refuses_a_missing_or_forged_page_token(client, event):
    other = EventFactory(status="live")

    forged = post_start(client, event, start_payload(event, page_token="nope"))
    foreign = post_start(client, event, start_payload(other))

    assert refused(forged, 403, "Reload the event page and try again.")
    assert refused(foreign, 403, "Reload the event page and try again.")
    assert Donation.objects.count() == 0


def test_it_rate_limits_starts_per_ip(client, event, settings):
    settings.DONATION_STARTS_PER_IP = 3
    for n in range(3):
        assert (
            post_start(client, event, start_payload(event, email=f"d{n}@example.com")).status_code
            == 200
        )

    response = post_start(client, event, start_payload(event, email="d9@example.com"))

    assert refused(
        response, 429, "Too many donation attempts. Please wait a few minutes and try again."
    )
    assert 0 < int(response["Retry-After"]) <= 600
    assert Donation.objects.count() == 3


def test_invented_forwarded_for_headers_do_not_reset_the_per_ip_count(client, event, settings):
    # The address is the connection's (config/serve.py believes only trusted proxies).
    settings.DONATION_STARTS_PER_IP = 2
    statuses = [
        post_start(
            client,
            event,
            start_payload(event, email=f"d{n}@example.com"),
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 429, 429]


def test_a_proxy_that_sends_no_client_address_does_not_put_every_donor_in_one_bucket(
    client, event, settings
):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    settings.DONATION_STARTS_PER_IP = 2
    statuses = [
        post_start(
            client, event, start_payload(event, email=f"d{n}@example.com"), REMOTE_ADDR="10.1.2.3"
        ).status_code
        for n in range(4)
    ]
    # The per-email limit still holds for each donor.
    assert statuses == [200, 200, 200, 200]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 50_000 + b"]" * 50_000,
        b'{"email": "a\\ud800@example.com"}',  # a lone surrogate, as JSON spells it
    ],
)
def test_a_body_nested_too_deep_or_with_a_lone_surrogate_is_a_clear_400(client, event, body):
    response = client.post(
        f"/donations/events/{event.slug}/start/", data=body, content_type="application/json"
    )
    assert refused(response, 400, "The request was not understood. Reload the page and try again.")
    assert Donation.objects.count() == 0


def test_it_rate_limits_starts_per_email_across_ips(client, event, settings):
    settings.DONATION_STARTS_PER_EMAIL = 2
    for n in range(2):
        post_start(client, event, start_payload(event), REMOTE_ADDR=f"10.0.0.{n}")

    response = post_start(client, event, start_payload(event), REMOTE_ADDR="10.0.0.9")

    assert response.status_code == 429
    assert Donation.objects.count() == 2


def test_it_requires_the_csrf_token(csrf_client, event):
    response = post_start(csrf_client, event, start_payload(event))

    assert response.status_code == 403
    assert Donation.objects.count() == 0


def test_it_backs_off_on_stripes_429_and_retries_under_the_same_key(client, event, stripe_settings):
    stripe_settings.fail_next(429, times=3)

    response = post_start(client, event, start_payload(event))

    assert response.status_code == 200
    calls = stripe_settings.calls("POST", "/v1/payment_intents")
    assert [c.status for c in calls] == [429, 429, 429, 200]
    assert len({c.idempotency_key for c in calls}) == 1
    assert len(stripe_settings.intents) == 1


def test_it_tells_the_donor_to_retry_when_stripe_keeps_answering_429(
    client, event, stripe_settings, settings
):
    settings.DONATION_PROVIDER_RETRY_SECONDS = 1
    stripe_settings.fail_next(429, times=1_000)

    response = post_start(client, event, start_payload(event))

    assert refused(
        response, 503, "Our payment processor is very busy right now. Please try again in a minute."
    )
    assert len(stripe_settings.intents) == 0
    assert Donation.objects.get().payment_id is None


def test_a_declined_card_is_a_402_with_stripes_message(client, event, stripe_settings):
    stripe_settings.fail_next(402)

    response = post_start(client, event, start_payload(event))

    assert refused(response, 402, "Your card was declined.")


def test_a_stripe_outage_is_a_503(client, event, stripe_settings):
    stripe_settings.fail_next(500)

    response = post_start(client, event, start_payload(event))

    assert refused(
        response, 503, "We could not reach our payment processor. Please try again in a minute."
    )


def test_donations_are_closed_without_stripe_or_permission_to_simulate(client, settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.ALLOW_SIMULATED_PAYMENTS = False
    settings.DEBUG = False
    event = EventFactory(status="live")

    response = post_start(client, event, start_payload(event))

    assert refused(response, 503, "Donations are not available right now.")
    assert Donation.objects.count() == 0


def test_a_body_that_is_not_json_is_a_400(client, event):
    response = client.post(
        f"/donations/events/{event.slug}/start/", data="amount=5", content_type="text/plain"
    )

    assert refused(response, 400, "The request was not understood. Reload the page and try again.")


def test_a_plain_client_gets_no_donation_for_a_draft_event(stripe_settings):
    event = EventFactory(status="draft")

    response = post_start(Client(), event, start_payload(event))

    assert response.status_code == 404
