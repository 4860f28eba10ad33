from __future__ import annotations

from django.core import mail

from donations import services, webhooks
from donations.models import Donation
from donations.selectors import event_tally
from tests.donations.conftest import succeeded
from tests.donations.factories import DonationFactory


def test_one_receipt_per_succeeded_donation_even_if_asked_twice(stripe_settings):
    donation = DonationFactory(gift_minor=5_000, fee_minor=175)
    webhooks.receive_event(event=succeeded(donation), source="webhook")

    assert services.send_receipt(donation_id=donation.pk) is False
    [receipt] = mail.outbox
    assert receipt.to == [donation.email]
    assert receipt.subject == f"Your receipt from {donation.campaign.name}"
    assert "Thank you for your donation of $51.75" in receipt.body
    assert "Including $1.75 to cover fees." in receipt.body


def test_no_receipt_for_a_donation_that_did_not_succeed(stripe_settings):
    donation = DonationFactory()

    assert services.send_receipt(donation_id=donation.pk) is False
    assert mail.outbox == []


def test_the_refund_action_refunds_through_stripe_once(admin_client, stripe_settings):
    donation = DonationFactory(gift_minor=5_000)
    stripe_settings.add_intent(id=donation.payment_id, amount=5_000, status="succeeded")
    webhooks.receive_event(event=succeeded(donation), source="webhook")

    for _ in range(2):  # a double submit
        response = admin_client.post(
            "/admin/donations/donation/",
            {"action": "refund_donations", "_selected_action": [donation.pk]},
        )
        assert response.status_code == 302

    refunds = stripe_settings.calls("POST", "/v1/refunds")
    assert len({r.idempotency_key for r in refunds}) == 1
    assert len(stripe_settings.refunds) == 1
    assert refunds[0].params == {"payment_intent": donation.payment_id, "amount": "5000"}
    # The ledger moves when Stripe's charge.refunded arrives, not before.
    assert event_tally(event_id=donation.event_id).raised_minor == 5_000


def test_a_staff_viewer_cannot_refund(client, stripe_settings, staff_factory):
    donation = DonationFactory(gift_minor=5_000)
    webhooks.receive_event(event=succeeded(donation), source="webhook")
    client.force_login(staff_factory(donation.campaign, role="viewer"))

    client.post(
        "/admin/donations/donation/",
        {"action": "refund_donations", "_selected_action": [donation.pk]},
    )

    assert stripe_settings.calls("POST", "/v1/refunds") == []


def test_a_simulated_refund_lowers_the_tally_at_once(simulated_settings):
    donation = DonationFactory(gift_minor=5_000, provider="simulated", payment_id="sim_pi_1")
    webhooks.record_simulated_outcome(donation=donation, succeed=True)

    services.refund_donation(donation_id=donation.pk, user_id=None)

    assert Donation.objects.get().status == "refunded"
    assert event_tally(event_id=donation.event_id).raised_minor == 0


def test_with_a_broker_receipts_go_out_from_the_outbox_once(stripe_settings):
    from config.celery import app

    app.conf.task_always_eager = False  # the autouse fixture restores it
    donations = [DonationFactory() for _ in range(3)]
    for donation in donations:
        webhooks.receive_event(event=succeeded(donation), source="webhook")
    assert mail.outbox == []

    assert services.send_pending_receipts() == 3
    assert services.send_pending_receipts() == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(d.email for d in donations)
