from __future__ import annotations

from tests.donations.factories import DonationFactory


def test_staff_see_only_their_campaigns_donations(client, staff_factory):
    mine = DonationFactory(email="mine@example.com")
    DonationFactory(email="theirs@example.com")
    client.force_login(staff_factory(mine.campaign, role="viewer"))

    response = client.get("/admin/donations/donation/")

    assert response.status_code == 200
    assert b"mine@example.com" in response.content
    assert b"theirs@example.com" not in response.content
    assert f'href="/donations/campaigns/{mine.campaign_id}/export.csv"'.encode() in response.content


def test_another_campaigns_donation_is_a_404(client, staff_factory):
    mine = DonationFactory()
    theirs = DonationFactory()
    client.force_login(staff_factory(mine.campaign))

    response = client.get(f"/admin/donations/donation/{theirs.pk}/change/")

    assert response.status_code == 404


def test_money_fields_are_read_only(admin_client):
    donation = DonationFactory(gift_minor=2_500)

    admin_client.post(f"/admin/donations/donation/{donation.pk}/change/", {"gift_minor": 1})

    donation.refresh_from_db()
    assert donation.gift_minor == 2_500


def test_the_event_filter_names_only_the_staffs_events(client, staff_factory):
    mine = DonationFactory(event__title="Our night")
    DonationFactory(event__title="Their secret night")
    client.force_login(staff_factory(mine.campaign, role="viewer"))

    response = client.get("/admin/donations/donation/")

    assert b"Our night" in response.content
    assert b"Their secret night" not in response.content


def test_the_donation_list_shows_each_gifts_interval(client, staff_factory):
    monthly = DonationFactory(interval="month", email="monthly@example.com")
    client.force_login(staff_factory(monthly.campaign, role="viewer"))

    response = client.get("/admin/donations/donation/?interval=month")

    assert response.status_code == 200
    assert b'<td class="field-interval_display">Monthly</td>' in response.content
