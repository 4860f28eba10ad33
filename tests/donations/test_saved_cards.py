"""Saved cards with Stripe (through fakestripe): a gift that saves the card (a Customer and a
PaymentIntent with setup_future_usage), the success webhook that makes it usable, the signed
cookie, one-tap gifts (a PaymentIntent with the saved customer and payment method, one-time or
monthly), and a request that tries to name another donor's card."""

from __future__ import annotations

import pytest
from django.test import Client

from donations import tasks
from donations.models import Donation, MonthlyGift, SavedDonor
from donations.saved_donors import COOKIE, COOKIE_MAX_AGE_S
from donations.selectors import event_tally
from tests.donations.support import one_tap_body, post_one_tap, post_start, start_payload
from tests.support.stripe import post_webhook, stripe_event

pytestmark = pytest.mark.usefixtures("stripe_settings")


def give_and_save(client, event, fake, *, last4="4242", **overrides):
    """A gift that saves the card, paid in the browser, and its success webhook."""
    response = post_start(client, event, start_payload(event, save_card=True, **overrides))
    assert response.status_code == 200, response.content
    donation = Donation.objects.get(pk=response.json()["donation_id"])
    paid = fake.confirm(donation.payment_id, last4=last4)
    assert post_webhook(client, stripe_event("payment_intent.succeeded", paid)).status_code == 200
    return response, SavedDonor.objects.get(donation=donation)


def test_saving_makes_a_customer_and_a_payment_intent_that_keeps_the_card(
    client, event, stripe_settings, settings
):
    response = post_start(client, event, start_payload(event, save_card=True))

    assert response.status_code == 200
    donation = Donation.objects.get()
    saved = SavedDonor.objects.get()
    [customer_call] = stripe_settings.calls("POST", "/v1/customers")
    assert customer_call.params == {"email": "ada@example.com", "name": "Ada Lovelace"}
    assert customer_call.idempotency_key == f"pc-donation-{donation.attempt_key}-customer"
    [intent_call] = stripe_settings.calls("POST", "/v1/payment_intents")
    assert intent_call.params["customer"] == saved.customer_id
    assert intent_call.params["setup_future_usage"] == "off_session"
    assert "payment_method" not in intent_call.params
    assert (saved.email, saved.donor.first_name, saved.saved_at) == ("ada@example.com", "Ada", None)
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert bool(cookie["secure"]) is settings.SESSION_COOKIE_SECURE is True
    assert cookie["max-age"] == COOKIE_MAX_AGE_S
    assert cookie.value.split(":")[0] == saved.token  # the random token, signed; not the id
    # Until Stripe says the payment succeeded, there is no card to offer.
    assert client.get("/donations/saved/").status_code == 204


def test_the_success_webhook_saves_the_card_and_the_browser_is_offered_it(
    client, event, stripe_settings
):
    _, saved = give_and_save(client, event, stripe_settings)

    first = client.get("/donations/saved/")
    second = client.get("/donations/saved/")

    assert first.status_code == 200
    assert first.json() == {"card": "Visa •• 4242", "first_name": "Ada"}
    assert second.json() == first.json()
    assert first["Cache-Control"] == "private, no-store"
    saved.refresh_from_db()
    intent = next(iter(stripe_settings.intents.values()))
    assert (saved.payment_method_id, saved.card_brand, saved.card_last4) == (
        intent["payment_method"],
        "visa",
        "4242",
    )
    assert (saved.card_exp_month, saved.card_exp_year) == (12, 2034)
    assert stripe_settings.payment_methods[saved.payment_method_id]["customer"] == (
        saved.customer_id
    )
    # The card's brand and digits are read from Stripe once.
    assert len(stripe_settings.calls("GET", f"/v1/payment_methods/{saved.payment_method_id}")) == 1


def test_a_one_tap_gift_pays_with_the_saved_card_once_per_attempt(client, event, stripe_settings):
    _, saved = give_and_save(client, event, stripe_settings)
    body = one_tap_body(event, amount_minor=5_000, cover_fees=True, refcode="sms-4")

    first = post_one_tap(client, event, body)
    again = post_one_tap(client, event, body)

    assert first.status_code == 200, first.content
    assert again.json() == first.json()
    gift = Donation.objects.get(pk=first.json()["donation_id"])
    _, call, retried = stripe_settings.calls("POST", "/v1/payment_intents")
    assert retried.idempotency_key == call.idempotency_key == f"pc-donation-{gift.attempt_key}"
    assert len(stripe_settings.intents) == 2
    assert (call.params["customer"], call.params["payment_method"]) == (
        saved.customer_id,
        saved.payment_method_id,
    )
    assert "setup_future_usage" not in call.params
    assert call.params["amount"] == str(gift.amount_minor) == "5181"
    assert first.json() == {
        "donation_id": gift.pk,
        "reference": gift.reference,
        "share_refcode": gift.share_refcode,
        "provider": "stripe",
        "client_secret": stripe_settings.intents[gift.payment_id]["client_secret"],
        "publishable_key": "pk_test_fake",
        "gift_minor": 5_000,
        "fee_minor": 181,
        "amount_minor": 5_181,
        "currency": "usd",
        "interval": "",
        "ticker": None,
        "designation": [],  # the factory's campaign has no elections
        "payment_method": saved.payment_method_id,
    }
    assert (gift.email, gift.first_name, gift.last_name, gift.refcode) == (
        "ada@example.com",
        "Ada",
        "Lovelace",
        "sms-4",
    )
    assert Donation.objects.count() == 2
    assert len(stripe_settings.calls("POST", "/v1/customers")) == 1
    paid = stripe_settings.confirm(gift.payment_id)
    post_webhook(client, stripe_event("payment_intent.succeeded", paid))
    gift.refresh_from_db()
    assert gift.status == "succeeded"
    assert event_tally(event_id=event.pk).raised_minor == 2_500 + 5_181
    saved.refresh_from_db()
    assert saved.last_used_at is not None
    assert SavedDonor.objects.count() == 1  # a one-tap gift saves nothing new


def test_a_request_naming_another_donors_card_still_pays_with_the_cookies_own(
    event, stripe_settings
):
    ada, grace = Client(), Client()
    _, ada_card = give_and_save(ada, event, stripe_settings)
    _, grace_card = give_and_save(
        grace, event, stripe_settings, last4="1881", email="grace@example.com", first_name="Grace"
    )
    body = one_tap_body(
        event,
        email="grace@example.com",
        first_name="Grace",
        payment_method=grace_card.payment_method_id,
        customer=grace_card.customer_id,
        token=grace_card.token,
    )

    response = post_one_tap(ada, event, body)

    assert response.status_code == 200
    gift = Donation.objects.get(pk=response.json()["donation_id"])
    call = stripe_settings.calls("POST", "/v1/payment_intents")[-1]
    assert (call.params["customer"], call.params["payment_method"]) == (
        ada_card.customer_id,
        ada_card.payment_method_id,
    )
    assert (gift.email, gift.first_name) == ("ada@example.com", "Ada")
    assert response.json()["payment_method"] == ada_card.payment_method_id


def test_a_monthly_gift_saves_the_card_of_its_subscription(client, monthly_event, stripe_settings):
    response = post_start(
        client, monthly_event, start_payload(monthly_event, monthly=True, save_card=True)
    )
    assert response.status_code == 200
    gift = MonthlyGift.objects.get()
    saved = SavedDonor.objects.get()
    assert saved.customer_id == gift.customer_id
    assert len(stripe_settings.calls("POST", "/v1/customers")) == 1  # the subscription's only
    [sub] = stripe_settings.subscriptions.values()
    paid = stripe_settings.pay_invoice(sub["latest_invoice"])
    card = stripe_settings.add_card(customer=gift.customer_id, last4="5556", brand="mastercard")
    intent = {**paid["payment_intent"], "payment_method": card["id"]}
    for type_, obj in [
        ("payment_intent.succeeded", intent),
        ("invoice_payment.paid", paid["invoice_payment"]),
        ("invoice.paid", paid["invoice"]),
    ]:
        assert post_webhook(client, stripe_event(type_, obj)).status_code == 200

    assert client.get("/donations/saved/").json() == {
        "card": "Mastercard •• 5556",
        "first_name": "Ada",
    }
    saved.refresh_from_db()
    assert saved.payment_method_id == card["id"]


def test_a_monthly_one_tap_gift_subscribes_the_saved_customer_with_the_saved_card(
    client, monthly_event, stripe_settings
):
    _, saved = give_and_save(client, monthly_event, stripe_settings)

    response = post_one_tap(client, monthly_event, one_tap_body(monthly_event, monthly=True))

    assert response.status_code == 200, response.content
    assert response.json()["interval"] == "month"
    [call] = stripe_settings.calls("POST", "/v1/subscriptions")
    assert (call.params["customer"], call.params["default_payment_method"]) == (
        saved.customer_id,
        saved.payment_method_id,
    )
    assert len(stripe_settings.calls("POST", "/v1/customers")) == 1  # no new customer
    assert MonthlyGift.objects.get().customer_id == saved.customer_id


def test_a_new_card_saved_from_the_same_browser_replaces_the_old_under_the_same_customer(
    client, event, stripe_settings
):
    _, old = give_and_save(client, event, stripe_settings)

    _, new = give_and_save(client, event, stripe_settings, last4="0005")

    old.refresh_from_db()
    assert new.customer_id == old.customer_id
    assert len(stripe_settings.calls("POST", "/v1/customers")) == 1
    assert old.revoked_at is not None
    assert client.get("/donations/saved/").json()["card"] == "Visa •• 0005"


def test_another_address_typed_in_a_remembered_browser_gets_a_customer_of_its_own(
    client, event, stripe_settings
):
    _, ada = give_and_save(client, event, stripe_settings)

    _, grace = give_and_save(client, event, stripe_settings, email="grace@example.com")

    ada.refresh_from_db()
    assert grace.customer_id != ada.customer_id
    assert ada.revoked_at is None  # Ada's card is hers: the browser now names Grace's
    assert len(stripe_settings.calls("POST", "/v1/customers")) == 2


def test_a_gift_without_save_card_saves_nothing(client, event, stripe_settings):
    response = post_start(client, event, start_payload(event))

    assert response.status_code == 200
    assert COOKIE not in response.cookies
    [call] = stripe_settings.calls("POST", "/v1/payment_intents")
    assert not {"customer", "setup_future_usage"} & set(call.params)
    assert stripe_settings.calls("POST", "/v1/customers") == []
    assert SavedDonor.objects.count() == 0


def test_a_retried_start_that_changes_save_card_is_refused_and_changes_nothing(
    client, event, stripe_settings
):
    body = start_payload(event)
    post_start(client, event, body)

    response = post_start(client, event, {**body, "save_card": True})

    assert response.status_code == 409
    assert response.json()["error"] == (
        "This donation was already started with other details. Reload the page."
    )
    assert (Donation.objects.count(), SavedDonor.objects.count()) == (1, 0)
    assert COOKIE not in response.cookies
    assert stripe_settings.calls("POST", "/v1/customers") == []


def test_a_failed_payment_saves_no_card(client, event, stripe_settings):
    response = post_start(client, event, start_payload(event, save_card=True))
    donation = Donation.objects.get(pk=response.json()["donation_id"])
    card = stripe_settings.add_card()
    failed = {**stripe_settings.intents[donation.payment_id], "payment_method": card["id"]}

    post_webhook(client, stripe_event("payment_intent.payment_failed", failed))

    assert SavedDonor.objects.get().saved_at is None
    assert client.get("/donations/saved/").status_code == 204


def test_reconciliation_saves_the_card_of_a_payment_whose_webhook_was_missed(
    client, event, stripe_settings
):
    response = post_start(client, event, start_payload(event, save_card=True))
    donation = Donation.objects.get(pk=response.json()["donation_id"])
    stripe_settings.confirm(donation.payment_id)  # paid; the webhook never came

    tasks.reconcile_payments()

    assert client.get("/donations/saved/").json()["card"] == "Visa •• 4242"
