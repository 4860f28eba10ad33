"""The money rules' records in the admin: scoped to the staff's campaigns, read-only."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from donations.models import InfoRequest
from tests.donations.factories import DonationFactory
from tests.factories import CampaignFactory, EventFactory


def info_request(campaign):
    gift = DonationFactory(event=EventFactory(campaign=campaign, status="live"))
    request = InfoRequest.objects.create(
        campaign=campaign, email=gift.email, received_at=timezone.now()
    )
    request.gifts.add(gift)
    return request, gift


def test_staff_read_their_campaigns_follow_ups_and_not_anothers(client, staff_factory):
    ours, theirs = CampaignFactory(), CampaignFactory()
    mine, gift = info_request(ours)
    other, _ = info_request(theirs)
    client.force_login(staff_factory(ours, "owner"))

    page = client.get(reverse("admin:donations_inforequest_change", args=[mine.pk]))

    assert page.status_code == 200
    assert gift.reference in page.content.decode()
    assert 'name="gifts"' not in page.content.decode()
    listed = client.get(reverse("admin:donations_inforequest_changelist"))
    assert list(listed.context["cl"].result_list) == [mine]
    url = reverse("admin:donations_inforequest_change", args=[other.pk])
    assert client.get(url).status_code == 404
