from __future__ import annotations

import re

from django.core import mail

from donations import receipts
from donations.models import REFERENCE_ALPHABET, Donation
from tests.donations.factories import DonationFactory
from tests.support.stripe import receive, succeeded


def _sent_receipt(**fields):
    donation = DonationFactory(**fields)
    receive(succeeded(donation))
    [message] = mail.outbox
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    donation.refresh_from_db()
    return donation, message, html


def test_the_receipt_has_a_text_and_an_html_part_with_amount_date_campaign_and_reference(
    stripe_settings,
):
    donation, message, html = _sent_receipt(gift_minor=2_500, fee_minor=0)
    date = f"{donation.succeeded_at:%B} {donation.succeeded_at.day}, {donation.succeeded_at:%Y}"
    for part in (message.body, html):
        assert "$25 " in part
        assert date in part
        assert donation.campaign.name in part
        assert donation.event.title in part
        assert donation.reference in part
        assert "one-time" in part


def test_the_receipt_never_shows_the_sequential_id(stripe_settings):
    donation, message, html = _sent_receipt()
    assert f"reference: {donation.pk}<" not in html.lower()
    assert f"reference: {donation.pk}" not in message.body.lower()
    assert re.search(r"Receipt reference: PC-[A-Z2-7]{10}\n", message.body)


def test_the_html_receipt_escapes_a_hostile_donor_name(stripe_settings):
    hostile = '<img src=x onerror="alert(1)">'
    _donation, message, html = _sent_receipt(first_name=hostile, last_name="<b>Lovelace</b>")
    assert hostile not in html
    assert "<b>Lovelace</b>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert hostile in message.body  # the text part is text


def test_the_html_receipt_loads_no_image_and_no_stylesheet_without_a_logo(stripe_settings):
    _donation, _message, html = _sent_receipt()
    assert "<img" not in html
    assert "<link" not in html
    assert "<style" not in html


def test_a_political_campaign_gets_no_tax_statement(stripe_settings):
    _donation, message, html = _sent_receipt()
    assert receipts.NONPROFIT_STATEMENT not in message.body
    assert receipts.NONPROFIT_STATEMENT not in html


def test_a_nonprofit_receipt_carries_the_legal_name_the_ein_and_the_tax_statement(
    stripe_settings,
):
    donation = DonationFactory()
    campaign = donation.campaign
    campaign.kind = "nonprofit"
    campaign.ein = "12-3456789"
    campaign.paid_for_by = "Paid for by Friends of the Library"
    donation.net_minor = donation.amount_minor
    message = receipts.receipt_message(donation=donation, sent_at=donation.created_at)
    [(html, _mimetype)] = message.alternatives
    for part in (message.body, html):
        assert f"{campaign.legal_name} (EIN 12-3456789): {receipts.NONPROFIT_STATEMENT}" in part
        assert "Paid for by Friends of the Library" in part


def test_a_campaign_of_another_kind_that_is_not_political_gets_no_tax_statement(
    stripe_settings,
):
    donation = DonationFactory(event__campaign__political=False)
    assert donation.campaign.kind == "other"
    donation.net_minor = donation.amount_minor
    message = receipts.receipt_message(donation=donation, sent_at=donation.created_at)
    [(html, _mimetype)] = message.alternatives
    assert receipts.NONPROFIT_STATEMENT not in message.body
    assert receipts.NONPROFIT_STATEMENT not in html


def test_references_are_unique_random_and_not_sequential(db):
    donations = DonationFactory.create_batch(20)
    refs = [d.reference for d in donations]
    assert len(set(refs)) == 20
    for ref in refs:
        assert ref.startswith("PC-")
        assert len(ref) == 13
        assert set(ref[3:]) <= set(REFERENCE_ALPHABET)
    assert Donation.objects.filter(reference__in=refs).count() == 20
    assert refs != sorted(refs)  # not handed out in order (1 in 20! by chance)
