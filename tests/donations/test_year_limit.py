"""A PAC's limit per calendar year ($5,000 from one individual by default, the campaign's own
when set): checkout refuses a gift past the room left, counted by identity across emails; a
monthly gift stops before a month that would pass it, the donor and the owners and treasurers
told; an excess that got through anyway is an item of the treasurer's queue. Also: the FEC
committee id on the campaign, and a donor name that reads as a company's or a union's is a
questionable contribution."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import fecfile
import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from donations import services
from donations.compliance import queue
from donations.compliance.identity import donor_key
from donations.donors import DonorDetails
from donations.models import ComplianceItem, Donation, ItemKind, MonthlyGiftStop
from tests.donations.factories import DonationFactory
from tests.donations.support import ITEMIZED, deliver_paid, post_start, start_payload
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.usefixtures("stripe_settings")

ADA = {
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "postal_code": "20500",
    "country": "US",
}
_ids = itertools.count(1)


@pytest.fixture
def pac(staff_factory):
    campaign = CampaignFactory(kind="pac", paid_for_by="Paid for by Beta PAC", monthly_enabled=True)
    staff_factory(campaign, "owner", email="owner@beta.example")
    staff_factory(campaign, "treasurer", email="treasurer@beta.example")
    staff_factory(campaign, "manager", email="intern@beta.example")
    return EventFactory(campaign=campaign, status="live")


def given(event, amount_minor, **details):
    details = {**ADA, **details}
    return DonationFactory(
        event=event,
        gift_minor=amount_minor,
        succeeded_seen=True,
        status="succeeded",
        net_minor=amount_minor,
        donor_key=donor_key(DonorDetails(**details)),
        **details,
    )


def start(client, event, amount_minor, **fields):
    body = start_payload(event, amount_minor=amount_minor, **{**ITEMIZED, **ADA, **fields})
    return post_start(client, event, body)


def test_a_pac_refuses_a_gift_past_the_year_limit_with_the_room_left(client, pac):
    given(pac, 450_000)
    count = Donation.objects.count()

    response = start(client, pac, 60_000)

    assert response.status_code == 400
    answer = response.json()
    year = answer["year"]
    assert answer["error"] == (
        f"This would take you past the contribution limit of $5,000 for {year}: you can give "
        "at most $500 more this year (fees included)."
    )
    assert (answer["field"], answer["room_minor"], answer["excess_minor"]) == (
        "amount_minor",
        50_000,
        10_000,
    )
    assert Donation.objects.count() == count
    assert start(client, pac, 50_000).status_code == 200


def test_the_year_limit_counts_one_person_across_emails(client, pac):
    given(pac, 500_000, email="ada@work.example")

    response = start(client, pac, 1_000)

    assert response.status_code == 400
    assert response.json()["error"].startswith("You have reached the contribution limit of $5,000")
    # Another person at the same address is not Ada.
    assert start(client, pac, 1_000, first_name="Byron", email="byron@example.com").status_code == (
        200
    )


def test_a_campaign_sets_its_own_year_limit_and_others_have_none(client, pac):
    pac.campaign.year_limit_minor = 100_000
    pac.campaign.save()
    given(pac, 90_000)
    assert start(client, pac, 20_000).status_code == 400

    nonprofit = EventFactory(
        campaign=CampaignFactory(kind="nonprofit", ein="12-3456789"), status="live"
    )
    given(nonprofit, 900_000)
    assert start(client, nonprofit, 100_000).status_code == 200


def test_a_monthly_gift_stops_before_a_month_past_the_year_limit(
    client, pac, stripe_settings, monkeypatch
):
    # Mid-June, so that next month is in the same year whatever day the suite runs.
    june = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: june)
    given(pac, 440_000)
    response = start(client, pac, 50_000, monthly=True)
    assert response.status_code == 200, response.content
    gift = Donation.objects.get(pk=response.json()["donation_id"]).monthly_gift
    assert gift is not None

    deliver_paid(client, stripe_settings.pay_invoice(gift.first_donation.invoice_id))

    stop = MonthlyGiftStop.objects.get()
    assert (stop.election, stop.limit_minor, stop.room_minor) == (None, 500_000, 10_000)
    assert stop.year == 2026
    assert stop.cancelled_at is not None
    donor, staff = [m for m in mail.outbox if "stopped" in m.subject]
    assert donor.to == ["ada@example.com"]
    assert f"for {stop.year} past the legal limit of $5,000 per calendar year" in donor.body
    assert sorted(staff.to) == ["owner@beta.example", "treasurer@beta.example"]
    assert f"past the limit of $5,000 for {stop.year}" in staff.body


def paid(campaign, **fields):
    """A gift paid through the simulated provider's events (the ledger's own path)."""
    gift = DonationFactory(
        event=EventFactory(campaign=campaign, status="live"),
        provider="simulated",
        payment_id=f"sim_pi_y{next(_ids)}",
        **{**ADA, "donor_key": donor_key(DonorDetails(**ADA)), **fields},
    )
    services.confirm_simulated_payment(donation=gift, succeed=True)
    gift.refresh_from_db()
    return gift


def test_an_excess_past_the_year_limit_is_a_queue_item_settled_by_a_refund(pac):
    paid(pac.campaign, gift_minor=300_000)
    later = paid(pac.campaign, gift_minor=300_000, email="ada@work.example")

    queue.sweep()

    item = ComplianceItem.objects.get(kind=ItemKind.EXCESSIVE)
    assert (item.donation_id, item.election_id, item.amount_minor) == (later.pk, None, 100_000)
    Donation.objects.filter(pk=later.pk).update(net_minor=200_000, refunded_minor=100_000)
    queue.sweep()
    item.refresh_from_db()
    assert item.resolved_at is not None
    assert item.actions.get().what == "settled"


@pytest.mark.parametrize(
    ("first", "last", "questionable"),
    [
        ("Acme", "Widgets Inc.", True),
        ("", "Teamsters Local 42", True),
        ("Widget", "Company", True),
        ("Ada", "Lovelace", False),
        ("Lincoln", "Cohen", False),  # "co" only as a whole word
        ("Ada", "Lovelace-Union", False),
    ],
)
def test_a_donor_name_of_a_company_or_union_is_questionable(first, last, questionable):
    gift = paid(CampaignFactory(), first_name=first, last_name=last)

    queue.sweep()

    kinds = set(ComplianceItem.objects.filter(donation=gift).values_list("kind", flat=True))
    assert (ItemKind.QUESTIONABLE in kinds) is questionable


def test_the_fec_committee_id_is_checked_and_used_by_the_fec_export(client, staff_factory):
    campaign = CampaignFactory(kind="pac", paid_for_by="Paid for by Beta PAC")
    campaign.fec_committee_id = "c0012345"
    with pytest.raises(ValidationError) as refused:
        campaign.full_clean()
    assert refused.value.message_dict["fec_committee_id"] == [
        "Enter the FEC committee ID as C and eight digits, for example C00123456."
    ]
    campaign.fec_committee_id = "c00123456"
    campaign.full_clean()
    campaign.save()
    assert campaign.fec_committee_id == "C00123456"
    client.force_login(staff_factory(campaign, "treasurer"))

    response = client.get(f"/donations/campaigns/{campaign.pk}/schedule-a.fec")

    assert response.status_code == 200
    parsed = fecfile.loads(b"".join(response.streaming_content).decode())
    assert parsed["filing"]["filer_committee_id_number"] == "C00123456"
