"""A monthly gift whose next month would pass the limit per election stops: the subscription
is cancelled with the provider, the donor and the campaign's owners are told, once each; a
provider that fails is retried by the sweep."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from donations.compliance import stops
from donations.compliance.identity import donor_key
from donations.donors import DonorDetails
from donations.models import Donation, MonthlyGift, MonthlyGiftStop
from tests.donations.factories import DonationFactory
from tests.donations.support import ITEMIZED, deliver_paid, post_start, start_payload
from tests.factories import CampaignFactory, ElectionFactory, EventFactory
from tests.support.stripe import post_webhook, stripe_event

pytestmark = pytest.mark.usefixtures("stripe_settings")

ADA = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}


@pytest.fixture
def race(staff_factory):
    """A federal candidate committee taking monthly gifts, its primary in 90 days (next
    month's gift is for it too), an owner with an email and a manager."""
    campaign = CampaignFactory(
        kind="federal_candidate", paid_for_by="Paid for by Alpha", monthly_enabled=True
    )
    primary = ElectionFactory(campaign=campaign, kind="primary", days=90)
    staff_factory(campaign, "owner", email="treasurer@alpha.example")
    staff_factory(campaign, "manager", email="intern@alpha.example")
    return EventFactory(campaign=campaign, status="live"), primary


def given(event, election, amount_minor):
    return DonationFactory(
        event=event,
        gift_minor=amount_minor,
        succeeded_seen=True,
        status="succeeded",
        net_minor=amount_minor,
        election=election,
        election_minor=amount_minor,
        donor_key=donor_key(DonorDetails(**ADA)),
        **ADA,
    )


def start_monthly(client, event, amount_minor):
    body = start_payload(
        event, amount_minor=amount_minor, monthly=True, **ADA, **ITEMIZED, postal_code="20500"
    )
    response = post_start(client, event, body)
    assert response.status_code == 200, response.content
    return MonthlyGift.objects.get()


def notices():
    return [m for m in mail.outbox if "stopped" in m.subject]


def test_a_monthly_gift_whose_next_month_would_pass_the_limit_stops(client, race, stripe_settings):
    event, primary = race
    given(event, primary, 200_000)
    gift = start_monthly(client, event, 100_000)

    deliver_paid(client, stripe_settings.pay_invoice(gift.first_donation.invoice_id))

    gift.refresh_from_db()
    assert gift.status == "ended"
    stop = MonthlyGiftStop.objects.get()
    assert [
        (r.path, r.idempotency_key) for r in stripe_settings.requests if r.method == "DELETE"
    ] == [(f"/v1/subscriptions/{gift.subscription_id}", f"pc-limit-stop-{stop.pk}")]
    assert stripe_settings.subscriptions[gift.subscription_id]["status"] == "canceled"
    assert (stop.election_id, stop.limit_minor, stop.room_minor, stop.excess_minor) == (
        primary.pk,
        350_000,
        50_000,
        0,
    )
    assert stop.due_at is None
    donor_notice, staff_notice = notices()
    assert donor_notice.to == ["ada@example.com"]
    assert donor_notice.subject == f"Your monthly gift to {event.campaign.name} has stopped"
    assert "past the legal limit of $3,500 per election" in donor_notice.body
    assert "you will not be charged again" in donor_notice.body
    assert donor_notice.body.endswith("\nPaid for by Alpha\n")
    assert staff_notice.to == ["treasurer@alpha.example"]
    assert f"Monthly gift {gift.pk} to {event.campaign.name}" in staff_notice.body
    assert f"/admin/donations/monthlygift/{gift.pk}/change/" in staff_notice.body


def test_the_same_invoice_delivered_again_stops_nothing_twice(client, race, stripe_settings):
    event, primary = race
    given(event, primary, 200_000)
    gift = start_monthly(client, event, 100_000)
    paid = stripe_settings.pay_invoice(gift.first_donation.invoice_id)
    deliver_paid(client, paid)

    post_webhook(client, stripe_event("invoice.paid", paid["invoice"], event_id="evt_again"))
    stops.run_due_stops()

    assert MonthlyGiftStop.objects.count() == 1
    assert len(notices()) == 2
    assert len([r for r in stripe_settings.requests if r.method == "DELETE"]) == 1


def test_a_monthly_gift_whose_next_month_fits_goes_on(client, race, stripe_settings):
    event, primary = race
    given(event, primary, 150_000)
    gift = start_monthly(client, event, 100_000)

    deliver_paid(client, stripe_settings.pay_invoice(gift.first_donation.invoice_id))

    gift.refresh_from_db()
    assert gift.status == "active"
    assert MonthlyGiftStop.objects.count() == 0
    assert notices() == []
    # The next month fills the primary to $3,500 exactly: the one after would pass it.
    deliver_paid(client, stripe_settings.renew(gift.subscription_id))
    gift.refresh_from_db()
    assert (gift.status, MonthlyGiftStop.objects.get().room_minor) == ("ended", 0)


def test_a_month_that_itself_passed_the_limit_tells_staff_the_excess(client, race, stripe_settings):
    event, primary = race
    gift = start_monthly(client, event, 100_000)
    given(event, primary, 300_000)  # a one-time gift, after the monthly one started

    deliver_paid(client, stripe_settings.pay_invoice(gift.first_donation.invoice_id))

    stop = MonthlyGiftStop.objects.get()
    assert stop.excess_minor == 50_000
    [_, staff_notice] = notices()
    assert (
        "The month just paid took the donor $500 past the limit of its own election: refund or "
        "redesignate the excess within 60 days of its receipt." in staff_notice.body
    )


def test_a_provider_that_fails_leaves_the_stop_due_for_the_sweep(race, stripe_settings):
    event, primary = race
    first = given(event, primary, 100_000)
    gift = MonthlyGift.objects.create(
        campaign=event.campaign,
        event=event,
        first_donation=first,
        provider="stripe",
        subscription_id="sub_fake_000001",
        amount_minor=100_000,
        currency="usd",
        status="active",
    )
    stripe_settings.subscriptions["sub_fake_000001"] = {"id": "sub_fake_000001", "status": "active"}
    stop = MonthlyGiftStop.objects.create(
        monthly_gift=gift,
        installment=first,
        election=primary,
        limit_minor=350_000,
        room_minor=0,
        due_at=timezone.now(),
    )
    stripe_settings.fail_next(500)

    assert stops.run_due_stops() == 0

    stop.refresh_from_db()
    gift.refresh_from_db()
    assert (stop.cancelled_at, stop.attempts, gift.status, notices()) == (None, 1, "active", [])
    assert stop.due_at > timezone.now()
    assert stops.run_stop(stop_id=stop.pk) is True
    gift.refresh_from_db()
    assert (gift.status, len(notices())) == ("ended", 2)
    assert Donation.objects.count() == 1
