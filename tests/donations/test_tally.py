from __future__ import annotations

from config.celery import app
from donations.selectors import EventTally, RecentDonor, event_tally
from tests.donations.factories import DonationFactory
from tests.support.stripe import receive, succeeded


def test_an_event_without_donations_has_an_empty_tally(live_event):
    assert event_tally(event_id=live_event.pk) == EventTally(
        event_id=live_event.pk, currency="usd", raised_minor=0, donors=0, donations=0, recent=[]
    )


def test_a_succeeded_donation_moves_the_tally_and_the_ticker(live_event):
    donation = DonationFactory(
        event=live_event, gift_minor=5_000, ticker_opt_in=True, display_name="Ada", message="Go!"
    )
    receive(succeeded(donation))

    assert event_tally(event_id=live_event.pk) == EventTally(
        event_id=live_event.pk,
        currency="usd",
        raised_minor=5_000,
        donors=1,
        donations=1,
        recent=[RecentDonor(display_name="Ada", amount_minor=5_000, message="Go!")],
    )


def test_anonymous_donors_with_hidden_amounts_appear_as_such(live_event):
    donation = DonationFactory(
        event=live_event, ticker_opt_in=True, anonymous=True, hide_amount=True, display_name="X"
    )
    receive(succeeded(donation))

    assert event_tally(event_id=live_event.pk).recent == [
        RecentDonor(display_name="Anonymous", amount_minor=None, message="")
    ]


def test_donors_who_did_not_opt_in_stay_out_of_the_ticker(live_event):
    donation = DonationFactory(event=live_event, ticker_opt_in=False)
    receive(succeeded(donation))

    assert event_tally(event_id=live_event.pk).recent == []


def test_two_gifts_from_one_email_count_one_donor(live_event):
    first = DonationFactory(event=live_event, email="same@example.com")
    second = DonationFactory(event=live_event, email="same@example.com")
    receive(succeeded(first))
    receive(succeeded(second))

    tally = event_tally(event_id=live_event.pk)
    assert (tally.raised_minor, tally.donors, tally.donations) == (5_000, 1, 2)


def test_the_tally_takes_three_queries(live_event, django_assert_num_queries):
    for _ in range(3):
        donation = DonationFactory(event=live_event, ticker_opt_in=True)
        receive(succeeded(donation))

    with django_assert_num_queries(3):
        event_tally(event_id=live_event.pk)


def test_applying_a_webhook_takes_eight_queries(live_event, django_assert_num_queries):
    """Store; then BEGIN, claim, lock the donor, save, both tally shards, COMMIT (with a
    broker, the receipt leaves later from the outbox); after it, the rise's milestone check
    (donations/milestones.py)."""
    app.conf.task_always_eager = False  # the autouse fixture restores it
    donation = DonationFactory(event=live_event)

    with django_assert_num_queries(8):
        receive(succeeded(donation))
