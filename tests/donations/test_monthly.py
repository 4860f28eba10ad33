"""Monthly giving with Stripe (through fakestripe): the start, the first installment, later
months, cancellation, and delivery twice or out of order."""

from __future__ import annotations

import pytest

from donations.models import Donation, LedgerIssue, MonthlyGift, ProviderProduct
from donations.selectors import event_tally, ledger_tally
from tests.donations.support import post_start, start_payload
from tests.factories import CampaignFactory, EventFactory
from tests.support.stripe import post_webhook, stripe_event

pytestmark = pytest.mark.usefixtures("stripe_settings")


def start_monthly(client, event, **overrides):
    response = post_start(client, event, start_payload(event, monthly=True, **overrides))
    assert response.status_code == 200, response.content
    return response.json()


def deliver(client, type_, obj, *, event_id=None):
    response = post_webhook(client, stripe_event(type_, obj, event_id=event_id))
    assert response.status_code == 200, response.content


def deliver_paid(client, objects):
    """Every webhook Stripe sends when an invoice is paid, in Stripe's usual order."""
    deliver(client, "payment_intent.succeeded", objects["payment_intent"])
    deliver(client, "invoice_payment.paid", objects["invoice_payment"])
    deliver(client, "invoice.paid", objects["invoice"])
    deliver(client, "customer.subscription.updated", objects["subscription"])


def test_a_monthly_gift_is_refused_when_the_campaign_does_not_offer_it(client, stripe_settings):
    event = EventFactory(status="live")

    response = post_start(client, event, start_payload(event, monthly=True))

    assert response.status_code == 400
    assert response.json() == {
        "error": "This campaign does not offer monthly giving.",
        "field": "monthly",
    }
    assert (Donation.objects.count(), MonthlyGift.objects.count()) == (0, 0)
    assert stripe_settings.requests == []


def test_it_starts_a_customer_and_an_incomplete_subscription_on_the_campaigns_product(
    client, monthly_event, stripe_settings
):
    started = start_monthly(client, monthly_event, amount_minor=3_000)

    donation = Donation.objects.get()
    gift = MonthlyGift.objects.get()
    [sub] = stripe_settings.subscriptions.values()
    first_invoice = stripe_settings.invoices[sub["latest_invoice"]]
    intent_id = stripe_settings.invoice_payments[first_invoice["id"]]["payment"]["payment_intent"]
    assert (started["interval"], started["client_secret"]) == (
        "month",
        stripe_settings.intents[intent_id]["client_secret"],
    )
    assert (donation.interval, donation.payment_id, donation.invoice_id, donation.monthly_gift) == (
        "month",
        intent_id,
        first_invoice["id"],
        gift,
    )
    assert (gift.subscription_id, gift.customer_id, gift.status, gift.amount_minor) == (
        sub["id"],
        sub["customer"],
        "incomplete",
        3_000,
    )
    [call] = stripe_settings.calls("POST", "/v1/subscriptions")
    assert call.params["payment_behavior"] == "default_incomplete"
    assert call.params["payment_settings[save_default_payment_method]"] == "on_subscription"
    assert call.params["items[0][price_data][recurring][interval]"] == "month"
    assert call.params["items[0][price_data][unit_amount]"] == "3000"
    assert call.params["items[0][price_data][product]"] == ProviderProduct.objects.get().product_id
    assert call.params["metadata[donation_id]"] == str(donation.pk)
    assert sorted(v for k, v in call.params.items() if k.startswith("expand")) == [
        "latest_invoice.confirmation_secret",
        "latest_invoice.payments",
    ]
    assert call.idempotency_key == f"pc-donation-{donation.attempt_key}-subscription"


def test_the_campaigns_product_is_created_once(client, monthly_event, stripe_settings):
    start_monthly(client, monthly_event, email="ada@example.com")
    start_monthly(client, monthly_event, email="grace@example.com")

    assert len(stripe_settings.calls("POST", "/v1/products")) == 1
    assert len(stripe_settings.calls("POST", "/v1/subscriptions")) == 2
    assert ProviderProduct.objects.count() == 1


def test_the_first_installment_counts_in_the_tally_once(client, monthly_event, stripe_settings):
    start_monthly(client, monthly_event, amount_minor=3_000)
    gift = MonthlyGift.objects.get()

    deliver_paid(client, stripe_settings.pay_invoice(gift.first_donation.invoice_id))

    assert Donation.objects.count() == 1
    assert Donation.objects.get().status == "succeeded"
    tally = event_tally(event_id=monthly_event.pk)
    assert (tally.raised_minor, tally.donors, tally.donations) == (3_000, 1, 1)
    gift.refresh_from_db()
    assert gift.status == "active"
    assert LedgerIssue.objects.count() == 0


def test_a_second_months_invoice_paid_adds_one_donation_even_when_delivered_twice(
    client, monthly_event, stripe_settings
):
    start_monthly(client, monthly_event, amount_minor=3_000, refcode="sms-9")
    gift = MonthlyGift.objects.get()
    deliver_paid(client, stripe_settings.pay_invoice(gift.first_donation.invoice_id))

    month2 = stripe_settings.renew(gift.subscription_id)
    deliver_paid(client, month2)
    deliver(client, "invoice.paid", month2["invoice"])  # the same event again
    deliver(client, "invoice.paid", month2["invoice"], event_id="evt_redelivered_other_id")

    second = Donation.objects.exclude(pk=gift.first_donation_id).get()
    assert (second.status, second.amount_minor, second.invoice_id, second.payment_id) == (
        "succeeded",
        3_000,
        month2["invoice"]["id"],
        month2["payment_intent"]["id"],
    )
    assert (second.email, second.refcode, second.monthly_gift_id, second.interval) == (
        "ada@example.com",
        "sms-9",
        gift.pk,
        "month",
    )
    tally = event_tally(event_id=monthly_event.pk)
    assert (tally.raised_minor, tally.donors, tally.donations) == (6_000, 1, 2)
    assert LedgerIssue.objects.count() == 0


def _ledger_after(client, fake, event, order):
    """Start a monthly gift, pay two months, and deliver all their webhooks in `order` (and
    every one twice). Returns what the ledger holds for that gift."""
    start_monthly(client, event, amount_minor=2_000)
    gift = MonthlyGift.objects.get(event=event)
    first = fake.pay_invoice(gift.first_donation.invoice_id)
    second = fake.renew(gift.subscription_id)
    ended = fake.cancel(gift.subscription_id)
    events = {
        "pi1": ("payment_intent.succeeded", first["payment_intent"]),
        "inv1": ("invoice.paid", first["invoice"]),
        "pay1": ("invoice_payment.paid", first["invoice_payment"]),
        "sub1": ("customer.subscription.updated", first["subscription"]),
        "pi2": ("payment_intent.succeeded", second["payment_intent"]),
        "inv2": ("invoice.paid", second["invoice"]),
        "pay2": ("invoice_payment.paid", second["invoice_payment"]),
        "end": ("customer.subscription.deleted", ended),
    }
    for name in [*order, *order]:
        type_, obj = events[name]
        deliver(client, type_, obj)
    gift.refresh_from_db()
    rows = Donation.objects.filter(monthly_gift=gift).order_by("id")
    return (
        gift.status,
        [(d.status, d.net_minor, d.payment_id is not None) for d in rows],
        event_tally(event_id=event.pk).raised_minor,
        LedgerIssue.objects.filter(campaign=event.campaign).count(),
    )


def test_out_of_order_delivery_converges(client, stripe_settings):
    orders = [
        ["pi1", "pay1", "inv1", "sub1", "pi2", "pay2", "inv2", "end"],  # Stripe's usual order
        ["end", "inv2", "pay2", "pi2", "sub1", "inv1", "pay1", "pi1"],  # all reversed
        ["pay2", "end", "pi2", "inv1", "inv2", "sub1", "pi1", "pay1"],  # shuffled
    ]
    outcomes = [
        _ledger_after(
            client,
            stripe_settings,
            EventFactory(status="live", campaign=CampaignFactory(monthly_enabled=True)),
            order,
        )
        for order in orders
    ]

    assert (
        outcomes
        == [("ended", [("succeeded", 2_000, True), ("succeeded", 2_000, True)], 4_000, 0)] * 3
    )
    assert ledger_tally().raised_minor == 12_000


def test_a_later_months_payment_alone_is_left_to_its_invoice_and_raises_no_issue(
    client, monthly_event, stripe_settings
):
    start_monthly(client, monthly_event)
    gift = MonthlyGift.objects.get()
    deliver_paid(client, stripe_settings.pay_invoice(gift.first_donation.invoice_id))

    month2 = stripe_settings.renew(gift.subscription_id)
    deliver(client, "payment_intent.succeeded", month2["payment_intent"])

    assert Donation.objects.count() == 1
    assert LedgerIssue.objects.count() == 0


def test_a_cancelled_subscription_stays_ended_whatever_comes_after(
    client, monthly_event, stripe_settings
):
    start_monthly(client, monthly_event)
    gift = MonthlyGift.objects.get()
    paid = stripe_settings.pay_invoice(gift.first_donation.invoice_id)
    ended = stripe_settings.cancel(gift.subscription_id)

    deliver(client, "customer.subscription.deleted", ended)
    deliver(client, "customer.subscription.updated", paid["subscription"])  # late, "active"

    gift.refresh_from_db()
    assert gift.status == "ended"
    assert gift.ended_at is not None


def test_the_per_donor_limit_counts_the_first_installment(client, stripe_settings):
    event = EventFactory(
        status="live",
        campaign=CampaignFactory(monthly_enabled=True, per_donor_limit_minor=5_000),
    )
    start_monthly(client, event, amount_minor=3_000)

    response = post_start(client, event, start_payload(event, amount_minor=3_000))

    assert response.status_code == 400
    assert response.json()["field"] == "amount_minor"
    assert Donation.objects.count() == 1
