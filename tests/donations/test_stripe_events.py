"""Stripe's event JSON into typed values (donations.providers.stripe_events): the only reader of
Stripe's shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from donations.providers.stripe_events import (
    ChargeRefund,
    DisputeEvent,
    InvoicePaid,
    InvoicePaymentPaid,
    MalformedEvent,
    PaymentIntentEvent,
    RemotePayment,
    SubscriptionChange,
    parse_event,
    reconciled_event,
)
from tests.support.stripe import stripe_event


def test_a_payment_intent_event_carries_what_the_handlers_read():
    event = parse_event(
        stripe_event(
            "payment_intent.succeeded",
            {
                "id": "pi_1",
                "object": "payment_intent",
                "amount_received": 2_500,
                "currency": "usd",
                "latest_charge": "ch_1",
                "customer": {"id": "cus_1", "object": "customer"},
                "payment_method": "pm_1",
                "metadata": {"donation_id": "7", "campaign_id": "3"},
            },
            event_id="evt_1",
        )
    )

    assert (event.event_id, event.type, event.payment_id) == (
        "evt_1",
        "payment_intent.succeeded",
        "pi_1",
    )
    assert event.object == PaymentIntentEvent(
        payment_id="pi_1",
        amount_received=2_500,
        currency="usd",
        latest_charge="ch_1",
        customer="cus_1",
        payment_method="pm_1",
        donation_ref="7",
        campaign_id=3,
    )


def test_missing_or_mistyped_fields_are_none_not_an_error():
    event = parse_event(
        stripe_event("charge.refunded", {"id": "ch_1", "amount": "5000", "metadata": "x"})
    )

    assert event.object == ChargeRefund(
        payment_id=None,
        charge_id="ch_1",
        amount=None,
        amount_refunded=None,
        currency=None,
        campaign_id=None,
    )


def test_a_dispute_says_whether_it_was_lost():
    obj = {"id": "dp_1", "payment_intent": "pi_1", "amount": 500, "currency": "usd"}

    lost = parse_event(stripe_event("charge.dispute.closed", {**obj, "status": "lost"})).object
    won = parse_event(stripe_event("charge.dispute.closed", {**obj, "status": "won"})).object

    assert isinstance(lost, DisputeEvent)
    assert isinstance(won, DisputeEvent)
    assert (lost.lost, won.lost, lost.payment_id) == (True, False, "pi_1")


def test_an_invoice_names_its_subscription_and_the_payment_that_paid_it():
    invoice = {
        "id": "in_1",
        "customer": "cus_1",
        "billing_reason": "subscription_create",
        "amount_paid": 3_000,
        "currency": "usd",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": "sub_1",
                "metadata": {"donation_id": "9", "campaign_id": "2"},
            },
        },
        "payments": {
            "data": [
                {"status": "canceled", "payment": {"payment_intent": "pi_old"}},
                {"status": "paid", "payment": {"payment_intent": {"id": "pi_1"}}},
            ]
        },
    }

    assert parse_event(stripe_event("invoice.paid", invoice)).object == InvoicePaid(
        invoice_id="in_1",
        customer="cus_1",
        first=True,
        subscription_id="sub_1",
        donation_ref="9",
        campaign_id=2,
        payment_id="pi_1",
        amount_paid=3_000,
        currency="usd",
    )


def test_an_older_invoice_names_its_subscription_at_the_top():
    invoice = {"id": "in_2", "subscription": "sub_1", "billing_reason": "subscription_cycle"}

    parsed = parse_event(stripe_event("invoice.paid", invoice)).object

    assert isinstance(parsed, InvoicePaid)
    assert (parsed.subscription_id, parsed.first, parsed.payment_id) == ("sub_1", False, "")


def test_an_invoice_payment_names_its_invoice_and_payment():
    obj = {"invoice": "in_1", "payment": {"type": "payment_intent", "payment_intent": "pi_1"}}

    parsed = parse_event(stripe_event("invoice_payment.paid", obj)).object

    assert parsed == InvoicePaymentPaid(invoice_id="in_1", payment_id="pi_1")


@pytest.mark.parametrize(
    ("status", "gift_status"),
    [
        ("incomplete", "incomplete"),
        ("trialing", "active"),
        ("past_due", "active"),
        ("unpaid", "ended"),
        ("incomplete_expired", "ended"),
        ("paused", None),
    ],
)
def test_a_subscriptions_status_is_what_it_means_for_a_monthly_gift(status, gift_status):
    obj = {"id": "sub_1", "status": status}
    event = stripe_event("customer.subscription.updated", obj)

    parsed = parse_event(event).object

    assert parsed == SubscriptionChange(
        subscription_id="sub_1",
        gift_status=gift_status,
        ended_at=None,
        changed_at=datetime.fromtimestamp(event["created"], tz=UTC),
    )


def test_an_ended_subscription_says_when():
    obj = {"id": "sub_1", "status": "canceled", "ended_at": None, "canceled_at": 1_800_000_000}

    parsed = parse_event(stripe_event("customer.subscription.deleted", obj)).object

    assert isinstance(parsed, SubscriptionChange)
    assert parsed.ended_at == datetime.fromtimestamp(1_800_000_000, tz=UTC)


def test_a_subscription_says_its_pause_amount_and_our_change_counter():
    obj = {
        "id": "sub_1",
        "status": "active",
        "pause_collection": {"behavior": "void", "resumes_at": None},
        "metadata": {"donation_id": "7", "pc_version": "3"},
        "items": {
            "object": "list",
            "data": [
                {"id": "si_1", "quantity": 2, "price": {"unit_amount": 1250, "currency": "usd"}}
            ],
        },
    }

    parsed = parse_event(stripe_event("customer.subscription.updated", obj)).object

    assert isinstance(parsed, SubscriptionChange)
    assert (parsed.paused, parsed.amount_minor, parsed.currency, parsed.version) == (
        True,
        2_500,
        "usd",
        3,
    )


def test_a_subscription_without_pause_or_items_leaves_them_unknown():
    obj = {"id": "sub_1", "status": "active", "metadata": {"pc_version": "x"}}
    resumed = {**obj, "pause_collection": None}

    parsed = parse_event(stripe_event("customer.subscription.updated", obj)).object
    parsed_resumed = parse_event(stripe_event("customer.subscription.updated", resumed)).object

    assert isinstance(parsed, SubscriptionChange)
    assert (parsed.paused, parsed.amount_minor, parsed.version) == (None, None, 0)
    assert isinstance(parsed_resumed, SubscriptionChange)
    assert parsed_resumed.paused is False


def test_an_event_type_we_do_not_read_has_no_object():
    event = parse_event(stripe_event("customer.created", {"id": "cus_1"}))

    assert (event.type, event.object, event.payment_id) == ("customer.created", None, None)


def test_an_event_without_an_id_is_refused():
    with pytest.raises(MalformedEvent):
        parse_event({"type": "payment_intent.succeeded", "data": {"object": {}}})


def remote(**fields):
    return RemotePayment(
        **{
            "payment_id": "pi_1",
            "status": "succeeded",
            "amount_received": 1_000,
            "amount": 1_000,
            "currency": "usd",
            "metadata": {"donation_id": "4"},
            **fields,
        }
    )


def test_reconciliation_makes_the_event_the_webhook_missed():
    event = reconciled_event(remote(latest_charge="ch_1"))

    assert event is not None
    assert (event.event_id, event.type) == ("recon_pi_1_succeeded", "payment_intent.succeeded")
    assert isinstance(event.object, PaymentIntentEvent)
    assert (event.object.amount_received, event.object.latest_charge) == (1_000, "ch_1")


def test_reconciliation_skips_payments_not_ours_or_without_an_outcome():
    assert reconciled_event(remote(metadata={})) is None
    assert reconciled_event(remote(status="processing")) is None
    failed = reconciled_event(remote(status="requires_payment_method", failed=True))
    assert failed is not None
    assert (failed.event_id, failed.type) == (
        "recon_pi_1_failed",
        "payment_intent.payment_failed",
    )
