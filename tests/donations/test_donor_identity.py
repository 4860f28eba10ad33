"""Who a donor is across emails, and their totals per election: two emails of one person
aggregate; refunds come off; pending gifts hold their amount for a while; a primary maxed out
leaves the general open."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from donations.compliance.aggregates import counted_parts, donor_totals
from donations.compliance.identity import donor_key, normalized_name, normalized_postal_code
from donations.donors import DonorDetails
from donations.models import Donation
from events.elections import gift_date
from tests.donations.factories import DonationFactory
from tests.donations.support import ITEMIZED, post_start, start_payload
from tests.factories import CampaignFactory, ElectionFactory, EventFactory

pytestmark = pytest.mark.usefixtures("stripe_settings")

ADA = {"first_name": "Ada", "last_name": "Lovelace", "postal_code": "20500", "country": "US"}


@pytest.fixture
def race():
    """A live event of a federal candidate committee ($3,500 per election), a primary in 30
    days and a general in 150."""
    campaign = CampaignFactory(kind="federal_candidate", paid_for_by="Paid for by Alpha")
    primary = ElectionFactory(campaign=campaign, kind="primary", days=30)
    general = ElectionFactory(campaign=campaign, kind="general", days=150)
    return EventFactory(campaign=campaign, status="live"), primary, general


def given(event, election, amount_minor, **fields):
    """A succeeded gift of `amount_minor` designated wholly to `election`."""
    details = {"email": "ada@example.com", **ADA, **fields}
    return DonationFactory(
        event=event,
        gift_minor=amount_minor,
        succeeded_seen=True,
        status="succeeded",
        net_minor=amount_minor,
        election=election,
        election_minor=amount_minor,
        donor_key=donor_key(DonorDetails(**details)),
        **details,
    )


def start(client, event, amount_minor, **fields):
    body = start_payload(event, amount_minor=amount_minor, **{**ITEMIZED, **fields})
    return post_start(client, event, body)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Ada", "Lovelace", "ada|lovelace"),
        ("  ADA ", "LOVELACE", "ada|lovelace"),
        ("Ada King", "Lovelace", "ada|lovelace"),
        ("Dr. Ada", "Lovelace Jr.", "ada|lovelace"),
        ("José", "O'Brien-Díaz", "jose|obriendiaz"),
        ("Ada", "", ""),
        ("", "Lovelace", ""),
        ("Mr", "Lovelace", ""),
    ],
)
def test_names_are_compared_folded_to_plain_letters(first, last, expected):
    assert normalized_name(first, last) == expected


@pytest.mark.parametrize(
    ("code", "country", "expected"),
    [
        ("20500", "US", "US|20500"),
        ("20500-0003", "us", "US|20500"),
        (" 20500 ", "", "US|20500"),
        ("00901", "PR", "PR|00901"),
        ("sw1a 1aa", "GB", "GB|SW1A1AA"),
        ("", "US", ""),
    ],
)
def test_postal_codes_are_compared_as_the_post_reads_them(code, country, expected):
    assert normalized_postal_code(code, country) == expected


def test_no_name_or_no_postal_code_gives_no_identity_key():
    assert donor_key(DonorDetails(email="a@example.com", **{**ADA, "postal_code": ""})) == ""
    assert donor_key(DonorDetails(email="a@example.com", **{**ADA, "last_name": ""})) == ""
    assert len(donor_key(DonorDetails(email="a@example.com", **ADA))) == 32


def test_two_emails_of_one_person_aggregate_toward_the_election_limit(client, race):
    event, primary, _ = race
    given(event, primary, 300_000, email="ada@work.example.com")

    response = start(
        client,
        event,
        100_000,
        email="ada@home.example.com",
        first_name="ada",
        last_name="LOVELACE",
        postal_code="20500-0003",
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"].startswith(
        f"This would take you past the contribution limit for the {primary.name}: you can give "
        "at most $500 more (fees included)."
    )
    assert (response.json()["field"], response.json()["room_minor"]) == ("amount_minor", 50_000)
    assert Donation.objects.count() == 1


def test_one_email_under_two_names_aggregates_too(client, race):
    event, primary, _ = race
    given(event, primary, 300_000, first_name="Augusta", postal_code="10001")

    response = start(client, event, 60_000, email="ada@example.com", **ADA)

    assert response.status_code == 400
    assert response.json()["room_minor"] == 50_000


def test_another_person_at_the_same_postal_code_has_their_own_limit(client, race):
    event, primary, _ = race
    given(event, primary, 350_000)

    response = start(
        client, event, 350_000, email="charles@example.com", first_name="Charles",
        last_name="Babbage", postal_code="20500",
    )  # fmt: skip

    assert response.status_code == 200, response.content


def test_the_room_is_net_of_refunds(client, race):
    event, primary, _ = race
    gift = given(event, primary, 350_000)
    Donation.objects.filter(pk=gift.pk).update(
        refunded_minor=100_000, net_minor=250_000, status="partially_refunded"
    )

    assert start(client, event, 100_001, **ADA).json()["room_minor"] == 100_000
    assert start(client, event, 100_000, **ADA).status_code == 200


def test_a_pending_gift_holds_its_amount_until_the_hold_ends(client, race):
    event, primary, _ = race
    held = given(event, primary, 300_000)
    Donation.objects.filter(pk=held.pk).update(status="pending", net_minor=0, succeeded_seen=False)

    assert start(client, event, 60_000, **ADA).json()["room_minor"] == 50_000

    Donation.objects.filter(pk=held.pk).update(created_at=timezone.now() - timedelta(minutes=31))
    assert start(client, event, 60_000, **ADA).status_code == 200


def test_a_donor_who_maxed_out_the_primary_gives_to_the_general_once_the_primary_is_over(
    client, race
):
    event, primary, general = race
    given(event, primary, 350_000)
    refused = start(client, event, 10_000, **ADA)
    assert refused.status_code == 400
    assert refused.json()["error"] == (
        f"You have reached the contribution limit for the {primary.name}. With your consent, "
        f"$100 can go to the {general.name} instead, in the same payment."
    )
    primary.date = gift_date() - timedelta(days=1)
    primary.save()

    response = start(client, event, 350_000, **ADA)

    assert response.status_code == 200, response.content
    assert response.json()["designation"] == [
        {"election": {"id": general.pk, "name": general.name}, "amount_minor": 350_000}
    ]


def test_a_campaign_with_elections_leaves_the_per_email_lifetime_limit_aside(client, race):
    event, _, _ = race
    event.campaign.per_donor_limit_minor = 1_000
    event.campaign.save()

    assert start(client, event, 300_000, **ADA).status_code == 200


def test_a_campaigns_own_limit_per_election_wins_over_its_kinds(client, race):
    event, _, _ = race
    event.campaign.election_limit_minor = 100_000
    event.campaign.save()

    response = start(client, event, 100_001, **ADA)

    assert response.json()["room_minor"] == 100_000


def test_a_refund_of_a_split_gift_comes_off_the_later_election_first():
    parts = {"election_id": 1, "election_minor": 3_000, "split_election_id": 2, "split_minor": 500}

    assert counted_parts(**parts, amount_minor=3_500, counted_minor=3_500) == [(1, 3_000), (2, 500)]
    assert counted_parts(**parts, amount_minor=3_500, counted_minor=3_200) == [(1, 3_000), (2, 200)]
    assert counted_parts(**parts, amount_minor=3_500, counted_minor=2_000) == [(1, 2_000), (2, 0)]
    assert counted_parts(**parts, amount_minor=3_500, counted_minor=0) == [(1, 0), (2, 0)]


def test_totals_sum_per_election_per_cycle_and_per_year(race):
    event, primary, general = race
    given(event, primary, 100_000)
    given(event, general, 20_000, email="ada@home.example.com")
    DonationFactory(event=event, email="ada@example.com", status="failed", gift_minor=9_999)

    totals = donor_totals(
        campaign_id=event.campaign_id,
        donor_key=donor_key(DonorDetails(email="x@example.com", **ADA)),
        email="ada@example.com",
    )

    assert totals.per_election == {primary.pk: 100_000, general.pk: 20_000}
    assert totals.per_cycle == {primary.cycle: 120_000}
    assert totals.per_year == {gift_date().year: 120_000}
