"""A campaign's kind (federal candidate committee, PAC, 501(c)(3), other): what it decides
(political or not, the nonprofit receipt's EIN) and the admin's checks on it."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from donations import receipts
from events import kinds
from events.models import Attestation, Campaign
from tests.donations.factories import DonationFactory
from tests.events.support import campaign_form_data
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_post(client, staff_factory):
    def post(campaign: Campaign, **fields: object):
        client.force_login(staff_factory(campaign, "owner"))
        url = reverse("admin:events_campaign_change", args=[campaign.pk])
        data = {k: v for k, v in campaign_form_data(campaign, **fields).items() if v is not None}
        return client.post(url, data)

    return post


def field_errors(response, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


def row(campaign: Campaign) -> tuple[str, str, bool]:
    campaign.refresh_from_db()
    return campaign.kind, campaign.ein, campaign.political


def test_a_nonprofit_without_an_ein_is_refused_and_nothing_changes(owner_post):
    campaign = CampaignFactory(political=False)

    response = owner_post(campaign, kind="nonprofit", ein="")

    assert response.status_code == 200
    assert field_errors(response, "ein") == ["A 501(c)(3)'s receipts must carry its EIN: enter it."]
    assert row(campaign) == ("other", "", False)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12-345678", "Enter the EIN as nine digits, for example 12-3456789."),
        ("12 3456789", "Enter the EIN as nine digits, for example 12-3456789."),
        ("\uff11\uff12-3456789", "Enter the EIN as nine digits, for example 12-3456789."),
        ("07-1234567", "No EIN begins with 07: check the number on the IRS letter."),
    ],
)
def test_an_ein_in_a_wrong_format_is_refused(owner_post, typed, message):
    campaign = CampaignFactory(political=False)

    response = owner_post(campaign, kind="nonprofit", ein=typed)

    assert response.status_code == 200
    assert field_errors(response, "ein") == [message]
    assert row(campaign) == ("other", "", False)


def test_an_ein_typed_as_nine_digits_is_stored_with_its_dash(owner_post):
    campaign = CampaignFactory(political=False)

    response = owner_post(campaign, kind="nonprofit", ein=" 123456789 ")

    assert response.status_code == 302
    assert row(campaign) == ("nonprofit", "12-3456789", False)


def test_a_federal_candidate_committee_is_political_whatever_the_box_says(owner_post):
    campaign = CampaignFactory(political=False)

    response = owner_post(
        campaign, kind="federal_candidate", paid_for_by="Paid for by Alpha for Congress"
    )

    assert response.status_code == 302
    assert row(campaign) == ("federal_candidate", "", True)


def test_a_pac_must_print_its_paid_for_by_line(owner_post):
    campaign = CampaignFactory(political=False)

    response = owner_post(campaign, kind="pac", paid_for_by="")

    assert response.status_code == 200
    assert field_errors(response, "paid_for_by") == [
        "A political committee must show who paid for its pages and emails: enter its "
        "“Paid for by” line."
    ]
    assert row(campaign) == ("other", "", False)


def test_a_nonprofit_is_not_political_even_with_the_box_ticked(owner_post):
    campaign = CampaignFactory()

    response = owner_post(campaign, kind="nonprofit", ein="12-3456789", political="on")

    assert response.status_code == 302
    assert row(campaign) == ("nonprofit", "12-3456789", False)


def test_the_kind_decides_political_when_a_service_saves_the_row_too():
    assert CampaignFactory(kind="nonprofit", political=True).political is False
    assert CampaignFactory(kind="pac", political=False).political is True
    assert CampaignFactory(kind="other", political=False).political is False


def sent_receipt(campaign: Campaign):
    donation = DonationFactory(
        event=EventFactory(campaign=campaign, status="live"), status="succeeded", net_minor=2_500
    )
    assert receipts.send_receipt(donation_id=donation.pk) is True
    [receipt] = mail.outbox
    [(html, _)] = receipt.alternatives
    return receipt.body, html


def test_a_nonprofits_receipt_names_it_with_its_ein_and_says_nothing_was_given_in_return():
    campaign = CampaignFactory(kind="nonprofit", ein="12-3456789", legal_name="Friends & Co")

    text, html = sent_receipt(campaign)

    assert text.endswith(
        "\nFriends & Co (EIN 12-3456789): No goods or services were provided in exchange for "
        "this contribution.\n"
    )
    assert "Friends &amp; Co (EIN 12-3456789): No goods or services were provided" in html
    assert "Paid for by" not in text


def test_a_candidate_committees_receipt_keeps_its_paid_for_by_line_and_no_tax_statement():
    campaign = CampaignFactory(
        kind="federal_candidate", paid_for_by="Paid for by Alpha for Congress"
    )

    text, html = sent_receipt(campaign)

    assert text.endswith("\n\nPaid for by Alpha for Congress\n")
    assert receipts.NONPROFIT_STATEMENT not in text
    assert receipts.NONPROFIT_STATEMENT not in html


def test_a_campaign_that_becomes_a_candidate_committee_gets_its_kinds_attestations(owner_post):
    campaign = CampaignFactory()

    response = owner_post(
        campaign, kind="federal_candidate", paid_for_by="Paid for by Alpha for Congress"
    )

    assert response.status_code == 302
    assert list(campaign.attestations.values_list("text", "position")) == [
        (text, i) for i, text in enumerate(kinds.POLITICAL_ATTESTATIONS)
    ]
    # Saving it again, with its statements as they are, adds nothing.
    campaign.refresh_from_db()
    rows = list(campaign.attestations.all())
    again = owner_post(
        campaign,
        paid_for_by="Paid for by Alpha for Congress",
        **{
            "attestations-TOTAL_FORMS": str(len(rows)),
            "attestations-INITIAL_FORMS": str(len(rows)),
        },
        **{f"attestations-{i}-id": a.pk for i, a in enumerate(rows)},
        **{f"attestations-{i}-campaign": campaign.pk for i, a in enumerate(rows)},
        **{f"attestations-{i}-text": a.text for i, a in enumerate(rows)},
        **{f"attestations-{i}-position": a.position for i, a in enumerate(rows)},
    )
    assert again.status_code == 302
    assert campaign.attestations.count() == len(kinds.POLITICAL_ATTESTATIONS)


def test_a_campaign_with_its_own_attestations_keeps_them_when_its_kind_changes(owner_post):
    campaign = CampaignFactory()
    Attestation.objects.create(campaign=campaign, text="I am a resident of Ohio.")

    owner_post(campaign, kind="pac", paid_for_by="Paid for by Ohio PAC")

    assert list(campaign.attestations.values_list("text", flat=True)) == [
        "I am a resident of Ohio."
    ]


def test_a_nonprofit_gets_no_attestations(owner_post):
    campaign = CampaignFactory(political=False)

    owner_post(campaign, kind="nonprofit", ein="12-3456789")

    assert campaign.attestations.count() == 0
