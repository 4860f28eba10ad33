from __future__ import annotations

from donations import services
from donations.models import Donation
from donations.refunds import refund_donation
from donations.selectors import event_tally
from tests.donations.factories import DonationFactory
from tests.support.stripe import receive, succeeded


def test_the_refund_action_refunds_through_stripe_once(admin_client, stripe_settings):
    donation = DonationFactory(gift_minor=5_000)
    stripe_settings.add_intent(id=donation.payment_id, amount=5_000, status="succeeded")
    receive(succeeded(donation))

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
    receive(succeeded(donation))
    client.force_login(staff_factory(donation.campaign, role="viewer"))

    client.post(
        "/admin/donations/donation/",
        {"action": "refund_donations", "_selected_action": [donation.pk]},
    )

    assert stripe_settings.calls("POST", "/v1/refunds") == []


def test_a_simulated_refund_lowers_the_tally_at_once(simulated_settings):
    donation = DonationFactory(gift_minor=5_000, provider="simulated", payment_id="sim_pi_1")
    services.confirm_simulated_payment(donation=donation, succeed=True)

    refund_donation(donation_id=donation.pk, user_id=None)

    assert Donation.objects.get().status == "refunded"
    assert event_tally(event_id=donation.event_id).raised_minor == 0
