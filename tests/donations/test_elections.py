"""Which election a gift is for: the next one on its date (the FEC's presumption), the donor's
choice where the campaign allows it, a month of a monthly gift as it is paid; and the refusals
(another campaign's election, a past one, a choice the campaign does not offer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from donations.models import Donation, MonthlyGift
from events.elections import gift_date
from tests.donations.factories import DonationFactory
from tests.donations.support import deliver_paid, post_start, start_payload
from tests.factories import CampaignFactory, ElectionFactory, EventFactory

pytestmark = pytest.mark.usefixtures("stripe_settings")


@pytest.fixture
def race():
    """A live event of a federal candidate committee with a primary in 30 days and a general
    in 150."""
    campaign = CampaignFactory(kind="federal_candidate", paid_for_by="Paid for by Alpha")
    primary = ElectionFactory(campaign=campaign, kind="primary", days=30)
    general = ElectionFactory(campaign=campaign, kind="general", days=150)
    return EventFactory(campaign=campaign, status="live"), primary, general


def refused(response, message, field="designation", status=400):
    assert response.status_code == status, response.content
    assert response.json() == {"error": message, "field": field}
    assert Donation.objects.count() == 0
    return True


def test_a_gift_is_for_the_next_election_on_its_date(client, race):
    event, primary, _general = race

    response = post_start(client, event, start_payload(event, amount_minor=10_000))

    assert response.status_code == 200, response.content
    assert response.json()["designation"] == [
        {"election": {"id": primary.pk, "name": primary.name}, "amount_minor": 10_000}
    ]
    donation = Donation.objects.get()
    assert (donation.election_id, donation.election_minor) == (primary.pk, 10_000)
    assert (donation.split_election_id, donation.split_minor) == (None, 0)


def test_a_gift_on_the_day_of_the_primary_is_still_for_the_primary(client, race):
    event, primary, _ = race
    primary.date = gift_date()
    primary.save()

    post_start(client, event, start_payload(event))

    assert Donation.objects.get().election_id == primary.pk


def test_once_the_primary_is_over_a_gift_is_for_the_general(client, race):
    event, primary, general = race
    primary.date = gift_date() - timedelta(days=1)
    primary.save()

    response = post_start(client, event, start_payload(event))

    assert response.json()["designation"][0]["election"]["id"] == general.pk
    assert Donation.objects.get().election_id == general.pk


def test_a_donor_chooses_the_general_where_the_campaign_allows_it(client, race):
    event, _, general = race
    event.campaign.donor_chooses_election = True
    event.campaign.save()

    response = post_start(client, event, start_payload(event, designation={"election": general.pk}))

    assert response.status_code == 200, response.content
    assert Donation.objects.get().election_id == general.pk


def test_choosing_another_election_is_refused_where_the_campaign_does_not_offer_it(client, race):
    event, primary, general = race

    response = post_start(client, event, start_payload(event, designation={"election": general.pk}))

    assert refused(
        response,
        f"Gifts to this campaign are for its next election, the {primary.name}: choosing "
        "another is not open.",
    )


def test_a_designation_to_another_campaigns_election_is_refused(client, race):
    event, _, _ = race
    event.campaign.donor_chooses_election = True
    event.campaign.save()
    theirs = ElectionFactory(kind="general", days=150)

    response = post_start(client, event, start_payload(event, designation={"election": theirs.pk}))

    assert refused(response, "That election is not one of this campaign's. Reload the page.")


def test_a_designation_to_a_past_election_is_refused(client, race):
    event, _, _ = race
    event.campaign.donor_chooses_election = True
    event.campaign.save()
    past = ElectionFactory(campaign=event.campaign, kind="special", days=-3)

    response = post_start(client, event, start_payload(event, designation={"election": past.pk}))

    assert refused(response, f"The {past.name} is over: a gift can only be for an election ahead.")


@pytest.mark.parametrize(
    "designation",
    [
        "general",
        [1],
        {"election": "7"},
        {"election": True},
        {"elections": 7},
        {"split_to": 7},
        {"split_to": 7, "consent": 12},
    ],
)
def test_a_designation_that_is_not_understood_is_a_clear_400(client, race, designation):
    event, _, _ = race

    response = post_start(client, event, start_payload(event, designation=designation))

    assert response.status_code == 400
    assert response.json()["field"] == "designation"
    assert response.json()["error"] in (
        "The election you chose was not understood. Reload the page and try again.",
        "Confirm that the rest of your gift goes to the next election.",
    )
    assert Donation.objects.count() == 0


def test_a_campaign_whose_elections_are_all_past_takes_no_gift(client, race):
    event, primary, general = race
    for election, days in ((primary, 200), (general, 100)):
        election.date = gift_date() - timedelta(days=days)
        election.save()

    response = post_start(client, event, start_payload(event))

    assert refused(
        response,
        "This campaign takes gifts again once its next election is announced.",
        field="",
        status=409,
    )


def test_a_campaign_without_elections_designates_nothing(client, event):
    response = post_start(client, event, start_payload(event))

    assert response.json()["designation"] == []
    assert Donation.objects.get().election_id is None


def test_the_database_refuses_designations_that_do_not_add_up_to_the_charge(race):
    event, primary, general = race
    for fields in (
        {"election": primary, "election_minor": 2_000},
        {"election": primary, "election_minor": 1_500, "split_minor": 1_000},
        {"election": primary, "election_minor": 1_500, "split_election": general},
        {"election_minor": 2_500},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            DonationFactory(event=event, gift_minor=2_500, **fields)
    split = DonationFactory(
        event=event,
        gift_minor=2_500,
        election=primary,
        election_minor=1_500,
        split_election=general,
        split_minor=1_000,
    )
    assert split.election_minor + split.split_minor == split.amount_minor


def test_a_month_of_a_monthly_gift_is_for_the_next_election_on_the_day_it_is_paid(
    client, race, stripe_settings
):
    event, primary, general = race
    event.campaign.monthly_enabled = True
    event.campaign.save()
    assert post_start(client, event, start_payload(event, monthly=True)).status_code == 200
    gift = MonthlyGift.objects.get()
    deliver_paid(client, stripe_settings.pay_invoice(gift.first_donation.invoice_id))
    primary.date = gift_date() - timedelta(days=1)  # a month later, the primary is over
    primary.save()

    deliver_paid(client, stripe_settings.renew(gift.subscription_id))

    first, second = Donation.objects.order_by("id")
    assert (first.election_id, first.election_minor) == (primary.pk, 2_500)
    assert (second.election_id, second.election_minor, second.status) == (
        general.pk,
        2_500,
        "succeeded",
    )
