from __future__ import annotations

from django.core import mail

from config.celery import app
from donations import receipts
from tests.donations.factories import DonationFactory
from tests.support.stripe import receive, succeeded


def test_one_receipt_per_succeeded_donation_even_if_asked_twice(stripe_settings):
    donation = DonationFactory(gift_minor=5_000, fee_minor=175)
    receive(succeeded(donation))

    assert receipts.send_receipt(donation_id=donation.pk) is False
    [receipt] = mail.outbox
    assert receipt.to == [donation.email]
    assert receipt.subject == f"Your receipt from {donation.campaign.name}"
    assert "Thank you for your donation of $51.75" in receipt.body
    assert "Including $1.75 to cover fees." in receipt.body


def test_no_receipt_for_a_donation_that_did_not_succeed(stripe_settings):
    donation = DonationFactory()

    assert receipts.send_receipt(donation_id=donation.pk) is False
    assert mail.outbox == []


def test_with_a_broker_receipts_go_out_from_the_outbox_once(stripe_settings):
    app.conf.task_always_eager = False  # the autouse fixture restores it
    donations = [DonationFactory() for _ in range(3)]
    for donation in donations:
        receive(succeeded(donation))
    assert mail.outbox == []

    assert receipts.send_pending_receipts() == 3
    assert receipts.send_pending_receipts() == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(d.email for d in donations)
