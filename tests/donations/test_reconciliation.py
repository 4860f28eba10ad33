from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from donations import tasks
from donations.models import Donation, ProviderEvent, TallyShard
from donations.providers.stripe_events import parse_event
from donations.selectors import campaign_tally, event_tally, ledger_tally
from donations.webhooks.store import record_event
from tests.donations.factories import DonationFactory
from tests.support.stripe import receive, succeeded


def paid_remotely(fake, donation):
    fake.add_intent(
        id=donation.payment_id,
        amount=donation.amount_minor,
        amount_received=donation.amount_minor,
        currency="usd",
        status="succeeded",
        metadata={"donation_id": str(donation.pk)},
        latest_charge=f"ch_{donation.pk}",
    )


def test_reconciliation_applies_payments_the_webhooks_missed_across_pages(stripe_settings):
    donations = [DonationFactory(gift_minor=1_000) for _ in range(3)]
    event = donations[0].event
    donations += [DonationFactory(event=event, gift_minor=1_000) for _ in range(102)]
    for donation in donations:
        paid_remotely(stripe_settings, donation)
    stripe_settings.add_intent(amount=700, status="succeeded", metadata={})  # not ours

    recorded = tasks.reconcile_payments()

    assert recorded == 105
    assert Donation.objects.filter(status="succeeded").count() == 105
    lists = stripe_settings.calls("GET", "/v1/payment_intents")
    assert len(lists) == 2  # 106 intents, 100 a page
    assert "starting_after" not in lists[0].params
    assert lists[1].params["starting_after"].startswith("pi_")
    assert event_tally(event_id=event.pk).raised_minor == 103_000


def test_reconciliation_is_idempotent(stripe_settings):
    donation = DonationFactory(gift_minor=1_000)
    paid_remotely(stripe_settings, donation)
    tasks.reconcile_payments()

    assert tasks.reconcile_payments() == 0
    assert event_tally(event_id=donation.event_id).raised_minor == 1_000


def test_reconciliation_after_the_webhook_changes_nothing(stripe_settings):
    donation = DonationFactory(gift_minor=1_000)
    receive(succeeded(donation))
    paid_remotely(stripe_settings, donation)

    tasks.reconcile_payments()

    assert event_tally(event_id=donation.event_id).raised_minor == 1_000
    assert ProviderEvent.objects.count() == 2


def test_the_sweep_applies_events_stored_but_never_applied(stripe_settings):
    donation = DonationFactory(gift_minor=1_000)
    row, _ = record_event(event=parse_event(succeeded(donation)), source="webhook")  # a crash
    ProviderEvent.objects.filter(pk=row.pk).update(
        received_at=timezone.now() - timedelta(minutes=1)
    )

    assert tasks.apply_unapplied_events() == 1
    assert tasks.apply_unapplied_events() == 0
    assert event_tally(event_id=donation.event_id).raised_minor == 1_000


def test_the_sweep_leaves_fresh_events_to_the_receiver(stripe_settings):
    donation = DonationFactory(gift_minor=1_000)
    record_event(event=parse_event(succeeded(donation)), source="webhook")

    assert tasks.apply_unapplied_events() == 0


def test_recompute_tallies_rebuilds_them_from_the_ledger(stripe_settings):
    a = DonationFactory(gift_minor=1_000)
    b = DonationFactory(event=a.event, gift_minor=2_000, email=a.email)
    c = DonationFactory(gift_minor=4_000, event__campaign=a.campaign)
    for donation in (a, b, c):
        receive(succeeded(donation))
    TallyShard.objects.update(raised_minor=1, donors=7)  # drifted

    call_command("recompute_tallies")

    tally = event_tally(event_id=a.event_id)
    assert (tally.raised_minor, tally.donors, tally.donations) == (3_000, 1, 2)
    assert campaign_tally(campaign_id=a.campaign_id) == ledger_tally(campaign_id=a.campaign_id)
    assert (campaign_tally(campaign_id=a.campaign_id).donors) == 2
