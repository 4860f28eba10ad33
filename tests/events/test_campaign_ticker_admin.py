"""The campaign's ticker rules in the admin: owners set the smallest gift shown with a name and
turn the profanity filter on or off; the help text says what happens to smaller gifts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from events.models import Campaign
from tests.events.support import campaign_form_data
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def _form(campaign: Campaign, **fields: str) -> dict[str, str]:
    return campaign_form_data(campaign, **fields)


def test_new_campaigns_mask_profanity_and_show_every_name():
    campaign = CampaignFactory()

    assert (campaign.ticker_name_min_minor, campaign.ticker_profanity_filter) == (0, True)


def test_an_owner_sets_the_ticker_rules(client, staff_factory):
    campaign = CampaignFactory()
    client.force_login(staff_factory(campaign, "owner"))
    url = reverse("admin:events_campaign_change", args=[campaign.pk])
    page = client.get(url).content.decode()
    assert "The live ticker" in page
    assert "show in the live ticker as “Someone”" in page

    response = client.post(url, _form(campaign, ticker_name_min_minor="10"))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.ticker_name_min_minor, campaign.ticker_profanity_filter) == (1_000, False)


def test_a_manager_cannot_change_the_ticker_rules(client, staff_factory):
    campaign = CampaignFactory()
    client.force_login(staff_factory(campaign, "manager"))
    url = reverse("admin:events_campaign_change", args=[campaign.pk])

    response = client.post(url, _form(campaign, ticker_name_min_minor="10"))

    assert response.status_code == 403
    campaign.refresh_from_db()
    assert (campaign.ticker_name_min_minor, campaign.ticker_profanity_filter) == (0, True)
