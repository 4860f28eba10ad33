from __future__ import annotations

import json
import time

import pytest
import stripe
from django.core import mail

from donations.models import Donation, LedgerIssue, ProviderEvent
from donations.providers.stripe_events import parse_event
from donations.selectors import event_tally
from donations.webhooks import store
from tests.donations.factories import DonationFactory
from tests.donations.support import live_changes, reset_live_changes
from tests.support.stripe import WEBHOOK_SECRET, post_webhook, stripe_event, succeeded


@pytest.fixture
def donation(stripe_settings):
    donation = DonationFactory(gift_minor=5_000)
    reset_live_changes(donation.event_id)
    return donation


def nothing_stored(donation) -> bool:
    donation.refresh_from_db()
    return (
        ProviderEvent.objects.count() == 0
        and donation.status == "pending"
        and event_tally(event_id=donation.event_id).raised_minor == 0
    )


def test_a_signed_success_marks_the_donation_succeeded_and_counts_it(csrf_client, donation):
    response = post_webhook(csrf_client, succeeded(donation))

    assert response.status_code == 200
    donation.refresh_from_db()
    assert (donation.status, donation.net_minor, donation.charge_id) == (
        "succeeded",
        5_000,
        f"ch_{donation.pk}",
    )
    tally = event_tally(event_id=donation.event_id)
    assert (tally.raised_minor, tally.donors, tally.donations) == (5_000, 1, 1)
    assert live_changes(donation.event_id) == 1
    assert [m.to for m in mail.outbox] == [[donation.email]]


def test_a_second_delivery_of_the_same_event_is_a_no_op(csrf_client, donation):
    post_webhook(csrf_client, succeeded(donation))

    again = post_webhook(csrf_client, succeeded(donation))

    assert again.status_code == 200
    assert ProviderEvent.objects.count() == 1
    assert event_tally(event_id=donation.event_id).raised_minor == 5_000
    assert live_changes(donation.event_id) == 1
    assert len(mail.outbox) == 1


def test_it_refuses_a_webhook_without_a_signature(csrf_client, donation):
    response = post_webhook(csrf_client, succeeded(donation), signature="")

    assert response.status_code == 400
    assert response.content == b"No Stripe-Signature header value was provided."
    assert nothing_stored(donation)


def test_it_refuses_a_webhook_signed_with_another_secret(csrf_client, donation):
    response = post_webhook(csrf_client, succeeded(donation), secret="whsec_other")

    assert response.status_code == 400
    assert response.content == b"No signatures found matching the expected signature for payload."
    assert nothing_stored(donation)


def test_it_refuses_a_tampered_body(csrf_client, donation):
    body = json.dumps(succeeded(donation))
    signature = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
    tampered = body.replace('"amount_received": 5000', '"amount_received": 9000')

    response = post_webhook(csrf_client, tampered, signature=signature)

    assert response.status_code == 400
    assert nothing_stored(donation)


def test_it_refuses_a_signature_older_than_five_minutes(csrf_client, donation):
    response = post_webhook(csrf_client, succeeded(donation), timestamp=int(time.time()) - 301)

    assert response.status_code == 400
    assert response.content.startswith(b"Timestamp outside the tolerance zone")
    assert nothing_stored(donation)


def test_it_refuses_a_signature_from_the_future(csrf_client, donation):
    response = post_webhook(csrf_client, succeeded(donation), timestamp=int(time.time()) + 600)

    assert response.status_code == 400
    assert response.content == b"Timestamp is in the future."
    assert nothing_stored(donation)


def test_it_refuses_a_signed_body_that_is_not_json(csrf_client, donation):
    response = post_webhook(csrf_client, "this is not json")

    assert response.status_code == 400
    assert response.content == b"The body is not JSON."
    assert nothing_stored(donation)


def test_it_refuses_get(csrf_client, donation):
    response = csrf_client.get("/donations/webhooks/stripe/")

    assert response.status_code == 405
    assert nothing_stored(donation)


def test_it_refuses_an_oversized_body(csrf_client, donation, settings):
    settings.STRIPE_WEBHOOK_MAX_BYTES = 2048
    event = succeeded(donation, description="x" * 4096)

    response = post_webhook(csrf_client, event)

    assert response.status_code == 413
    assert nothing_stored(donation)


def test_it_stores_and_acknowledges_an_event_type_it_does_not_handle(csrf_client, donation):
    response = post_webhook(csrf_client, stripe_event("customer.created", {"id": "cus_1"}))

    assert response.status_code == 200
    row = ProviderEvent.objects.get()
    assert (row.type, row.applied_at is not None, row.donation_id) == (
        "customer.created",
        True,
        None,
    )


def test_an_unknown_donation_is_recorded_for_staff_and_not_counted(csrf_client, donation):
    donation.payment_id = "pi_someone_else"
    event = succeeded(donation)
    donation.payment_id = None

    response = post_webhook(csrf_client, event)

    assert response.status_code == 200
    issue = LedgerIssue.objects.get()
    assert (issue.kind, issue.detail) == (
        "unknown_donation",
        "payment_intent.succeeded for payment pi_someone_else matches no donation.",
    )
    assert event_tally(event_id=donation.event_id).raised_minor == 0


def test_an_unknown_payment_naming_one_of_our_campaigns_is_shown_to_its_staff(
    csrf_client, donation
):
    donation.payment_id = "pi_someone_else"
    post_webhook(
        csrf_client, succeeded(donation, metadata={"campaign_id": str(donation.campaign_id)})
    )

    issue = LedgerIssue.objects.get()
    assert (issue.kind, issue.campaign_id, issue.donation_id) == (
        "unknown_donation",
        donation.campaign_id,
        None,
    )


def test_an_amount_that_disagrees_with_ours_is_recorded_and_not_counted(csrf_client, donation):
    response = post_webhook(csrf_client, succeeded(donation, amount_received=500))

    assert response.status_code == 200
    issue = LedgerIssue.objects.get()
    assert (issue.kind, issue.donation_id, issue.campaign_id) == (
        "amount_mismatch",
        donation.pk,
        donation.campaign_id,
    )
    assert issue.detail == "payment_intent.succeeded is for 500; the donation is for 5000."
    donation.refresh_from_db()
    assert donation.status == "pending"
    assert event_tally(event_id=donation.event_id).raised_minor == 0
    assert mail.outbox == []


def test_a_currency_that_disagrees_with_ours_is_recorded_and_not_counted(csrf_client, donation):
    post_webhook(csrf_client, succeeded(donation, currency="eur"))

    assert LedgerIssue.objects.get().kind == "currency_mismatch"
    assert event_tally(event_id=donation.event_id).raised_minor == 0


def refund_event(donation, refunded, event_id):
    return stripe_event(
        "charge.refunded",
        {
            "id": f"ch_{donation.pk}",
            "object": "charge",
            "payment_intent": donation.payment_id,
            "amount": donation.amount_minor,
            "amount_refunded": refunded,
            "currency": "usd",
            "paid": True,
        },
        event_id=event_id,
    )


def test_a_partial_refund_lowers_the_tally_by_the_refund(csrf_client, donation):
    post_webhook(csrf_client, succeeded(donation))

    post_webhook(csrf_client, refund_event(donation, 1_500, "evt_r1"))

    donation.refresh_from_db()
    assert (donation.status, donation.net_minor) == ("partially_refunded", 3_500)
    tally = event_tally(event_id=donation.event_id)
    assert (tally.raised_minor, tally.donors, tally.donations) == (3_500, 1, 1)


def test_a_full_refund_removes_the_donation_and_the_donor_from_the_tally(csrf_client, donation):
    post_webhook(csrf_client, succeeded(donation))
    post_webhook(csrf_client, refund_event(donation, 1_500, "evt_r1"))

    post_webhook(csrf_client, refund_event(donation, 5_000, "evt_r2"))

    donation.refresh_from_db()
    assert donation.status == "refunded"
    tally = event_tally(event_id=donation.event_id)
    assert (tally.raised_minor, tally.donors, tally.donations) == (0, 0, 0)
    assert live_changes(donation.event_id) == 3


def dispute_event(donation, type_, status, event_id):
    return stripe_event(
        type_,
        {
            "id": "dp_1",
            "object": "dispute",
            "charge": f"ch_{donation.pk}",
            "payment_intent": donation.payment_id,
            "amount": donation.amount_minor,
            "currency": "usd",
            "status": status,
        },
        event_id=event_id,
    )


def test_a_dispute_lowers_the_tally_and_a_won_dispute_restores_it(csrf_client, donation):
    post_webhook(csrf_client, succeeded(donation))

    post_webhook(
        csrf_client, dispute_event(donation, "charge.dispute.created", "needs_response", "evt_d1")
    )
    assert event_tally(event_id=donation.event_id).raised_minor == 0
    assert Donation.objects.get(pk=donation.pk).status == "disputed"

    post_webhook(csrf_client, dispute_event(donation, "charge.dispute.closed", "won", "evt_d2"))
    assert event_tally(event_id=donation.event_id).raised_minor == 5_000


def test_a_lost_dispute_keeps_the_donation_out_of_the_tally(csrf_client, donation):
    post_webhook(csrf_client, succeeded(donation))
    post_webhook(csrf_client, dispute_event(donation, "charge.dispute.closed", "lost", "evt_d2"))
    post_webhook(
        csrf_client, dispute_event(donation, "charge.dispute.created", "needs_response", "evt_d1")
    )

    donation.refresh_from_db()
    assert (donation.status, donation.dispute_state) == ("disputed", "lost")
    assert event_tally(event_id=donation.event_id).raised_minor == 0


def test_a_failure_after_a_success_changes_nothing(csrf_client, donation):
    post_webhook(csrf_client, succeeded(donation))

    failed = stripe_event(
        "payment_intent.payment_failed",
        {"id": donation.payment_id, "object": "payment_intent", "amount": 5_000, "currency": "usd"},
    )
    post_webhook(csrf_client, failed)

    donation.refresh_from_db()
    assert donation.status == "succeeded"
    assert event_tally(event_id=donation.event_id).raised_minor == 5_000
    assert live_changes(donation.event_id) == 1


def test_a_payment_whose_id_we_never_stored_is_linked_through_its_metadata(csrf_client, donation):
    payment_id = donation.payment_id
    event = succeeded(donation)
    Donation.objects.filter(pk=donation.pk).update(payment_id=None)

    post_webhook(csrf_client, event)

    donation.refresh_from_db()
    assert (donation.payment_id, donation.status) == (payment_id, "succeeded")
    assert LedgerIssue.objects.count() == 0


def test_stripes_retry_of_an_event_stored_but_never_applied_applies_it_at_once(
    csrf_client, donation
):
    # A crash (or a database restart) between storing and applying: the row is there, the
    # donation is not counted. Stripe retries, since we did not answer 2xx, or answered it
    # before the apply failed: the retry applies it, without waiting for the sweep.
    event = succeeded(donation)
    store.record_event(event=parse_event(event), source="webhook")
    assert ProviderEvent.objects.get(event_id=event["id"]).applied_at is None
    donation.refresh_from_db()
    assert donation.status == "pending"

    response = post_webhook(csrf_client, event)

    assert response.status_code == 200
    donation.refresh_from_db()
    assert donation.status == "succeeded"
    assert ProviderEvent.objects.get(event_id=event["id"]).applied_at is not None
    assert event_tally(event_id=donation.event_id).raised_minor == donation.net_minor
