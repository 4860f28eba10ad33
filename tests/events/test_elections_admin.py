"""A campaign's elections in the admin: owners add them with their cycle (from the date when
left empty), a cycle the date is not in is refused, and an election gifts are for cannot be
removed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from events.models import Campaign, Election
from tests.donations.factories import DonationFactory
from tests.events.support import campaign_form_data
from tests.factories import CampaignFactory, ElectionFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def post_elections(client, staff_factory):
    def post(campaign: Campaign, rows: list[dict[str, object]], role: str = "owner"):
        client.force_login(staff_factory(campaign, role))
        existing = list(campaign.elections.all())
        data = campaign_form_data(
            campaign,
            **{
                "elections-TOTAL_FORMS": str(len(rows)),
                "elections-INITIAL_FORMS": str(len(existing)),
            },
        )
        for i, fields in enumerate(rows):
            data.update({f"elections-{i}-{k}": v for k, v in fields.items()})
            data[f"elections-{i}-campaign"] = campaign.pk
        url = reverse("admin:events_campaign_change", args=[campaign.pk])
        return client.post(url, data)

    return post


def test_an_owner_adds_a_primary_and_a_general_with_their_cycle(post_elections):
    campaign = CampaignFactory()

    response = post_elections(
        campaign,
        [
            {"kind": "primary", "date": "2026-06-02", "cycle": ""},
            {"kind": "general", "date": "2026-11-03", "cycle": "2026"},
        ],
    )

    assert response.status_code == 302
    assert [(e.kind, str(e.date), e.cycle, e.name) for e in campaign.elections.all()] == [
        ("primary", "2026-06-02", 2026, "2026 primary"),
        ("general", "2026-11-03", 2026, "2026 general"),
    ]


def test_a_special_election_in_an_odd_year_is_in_the_next_even_years_cycle(post_elections):
    campaign = CampaignFactory()

    post_elections(campaign, [{"kind": "special", "date": "2025-09-16", "cycle": ""}])

    [special] = campaign.elections.all()
    assert (special.cycle, special.cycle_label, special.name) == (
        2026,
        "2025-2026",
        "2025 special (September 16)",
    )


def test_a_cycle_the_date_is_not_in_is_refused_and_nothing_is_added(post_elections):
    campaign = CampaignFactory()

    response = post_elections(
        campaign, [{"kind": "general", "date": "2026-11-03", "cycle": "2028"}]
    )

    assert response.status_code == 200
    assert "is in the 2025-2026 cycle: enter 2026." in response.content.decode()
    assert campaign.elections.count() == 0


def test_a_manager_cannot_add_an_election(post_elections):
    campaign = CampaignFactory()

    response = post_elections(
        campaign, [{"kind": "primary", "date": "2026-06-02", "cycle": ""}], role="manager"
    )

    assert response.status_code == 403
    assert campaign.elections.count() == 0


def test_an_election_gifts_are_designated_to_cannot_be_deleted(post_elections):
    campaign = CampaignFactory()
    election = ElectionFactory(campaign=campaign)
    DonationFactory(
        event=EventFactory(campaign=campaign, status="live"),
        election=election,
        election_minor=2_500,
    )

    response = post_elections(
        campaign,
        [
            {
                "id": election.pk,
                "kind": election.kind,
                "date": str(election.date),
                "cycle": election.cycle,
                "DELETE": "on",
            }
        ],
    )

    assert response.status_code == 200
    assert Election.objects.filter(pk=election.pk).exists()
