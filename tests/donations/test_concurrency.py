from __future__ import annotations

import threading

from django.core import mail
from django.test import Client

from donations.models import Donation, ManageLink, ProviderEvent
from donations.providers.stripe_events import parse_event
from donations.selectors import event_tally, ledger_tally
from donations.webhooks.apply import apply_event
from donations.webhooks.store import record_event
from tests.donations.factories import DonationFactory
from tests.donations.support import (
    ask_link,
    give_simulated,
    in_threads,
    link_path,
    live_changes,
    paid_monthly_gift,
    post_start,
    reset_live_changes,
    sign_in,
    start_payload,
)
from tests.factories import EventFactory
from tests.support.stripe import post_webhook, succeeded


def test_the_same_event_delivered_20_times_at_once_counts_once(stripe_settings):
    donation = DonationFactory(gift_minor=5_000)
    reset_live_changes(donation.event_id)
    event = succeeded(donation)

    results = in_threads(20, lambda: post_webhook(Client(enforce_csrf_checks=True), event))

    assert [getattr(r, "status_code", r) for r in results] == [200] * 20
    assert ProviderEvent.objects.count() == 1
    donation.refresh_from_db()
    assert donation.status == "succeeded"
    tally = event_tally(event_id=donation.event_id)
    assert (tally.raised_minor, tally.donors, tally.donations) == (5_000, 1, 1)
    assert live_changes(donation.event_id) == 1
    assert len(mail.outbox) == 1


def test_concurrent_gifts_from_one_donor_count_one_donor(stripe_settings):
    first = DonationFactory(gift_minor=1_000, email="same@example.com")
    others = [
        DonationFactory(event=first.event, gift_minor=1_000, email="same@example.com")
        for _ in range(9)
    ]
    events = iter([succeeded(d) for d in [first, *others]])
    lock = threading.Lock()

    def deliver():
        with lock:
            event = next(events)
        return post_webhook(Client(), event).status_code

    assert in_threads(10, deliver) == [200] * 10
    tally = event_tally(event_id=first.event_id)
    assert (tally.raised_minor, tally.donors, tally.donations) == (10_000, 1, 10)
    assert ledger_tally(event_id=first.event_id).donors == 1
    assert Donation.objects.filter(status="succeeded").count() == 10


def test_a_double_click_from_ten_threads_makes_one_donation_and_one_intent(
    stripe_settings, settings, event
):
    settings.DONATION_STARTS_PER_EMAIL = 100  # each click counts toward the rate limit

    body = start_payload(event)

    results = in_threads(10, lambda: post_start(Client(), event, body).status_code)

    assert results == [200] * 10
    assert Donation.objects.count() == 1
    assert len(stripe_settings.intents) == 1


def test_concurrent_starts_cannot_pass_the_per_donor_limit(stripe_settings):
    event = EventFactory(status="live", campaign__per_donor_limit_minor=5_000)

    results = in_threads(
        6, lambda: post_start(Client(), event, start_payload(event, amount_minor=2_500)).status_code
    )

    assert sorted(results) == [200, 200, 400, 400, 400, 400]
    assert Donation.objects.count() == 2


def test_the_sweep_racing_the_receiver_applies_an_event_once(stripe_settings):
    donation = DonationFactory(gift_minor=5_000)
    reset_live_changes(donation.event_id)
    row, _ = record_event(event=parse_event(succeeded(donation)), source="webhook")

    results = in_threads(5, lambda: apply_event(provider_event_id=row.pk))

    assert sorted(results) == [False, False, False, False, True]
    tally = event_tally(event_id=donation.event_id)
    assert (tally.raised_minor, tally.donations) == (5_000, 1)
    assert live_changes(donation.event_id) == 1


def test_one_self_service_link_continued_in_two_tabs_at_once_starts_one_session(
    simulated_settings, event
):
    give_simulated(Client(), event, email="ada@example.com")
    ask_link(Client(), "ada@example.com")
    path = link_path(mail.outbox[-1])

    results = in_threads(2, lambda: Client().post(path))

    assert sorted(getattr(r, "status_code", r) for r in results) == [303, 410]
    assert ManageLink.objects.filter(used_at__isnull=False).count() == 1


def test_two_pauses_of_one_monthly_gift_at_once_ask_stripe_once(monthly_event, stripe_settings):
    donor = Client()
    gift = paid_monthly_gift(donor, monthly_event, stripe_settings)
    sign_in(donor, "ada@example.com")

    def pause() -> object:
        tab = Client()
        tab.cookies = donor.cookies
        return tab.post(f"/donations/manage/monthly/{gift.pk}/pause/")

    results = in_threads(2, pause)

    assert [getattr(r, "status_code", r) for r in results] == [303, 303]
    assert len(stripe_settings.calls("POST", f"/v1/subscriptions/{gift.subscription_id}")) == 1
    gift.refresh_from_db()
    assert (gift.paused, gift.state_version, gift.changes.count()) == (True, 1, 1)
