"""Staff hide a ticker line from the dashboard (liveroom/tickerviews.py): owners and managers
press "Hide from ticker" and "Show again"; viewer members see no button and are refused;
another campaign's event, an unknown donation, another event's donation and GET are refused
and change nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from donations.models import Donation
from donations.selectors import recent_donors
from liveroom.tickerviews import VIEW_ONLY
from tests.donations.factories import DonationFactory
from tests.factories import EventFactory
from tests.support.stripe import receive, succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _given(event, **fields) -> Donation:
    donation = DonationFactory(event=event, ticker_opt_in=True, **fields)
    receive(succeeded(donation))
    return donation


def _url(event_id: int, donation_id: int, action: str = "hide") -> str:
    return reverse("liveroom:ticker-line", args=[event_id, donation_id, action])


def _hidden(donation: Donation) -> bool:
    return Donation.objects.values_list("ticker_hidden", flat=True).get(pk=donation.pk)


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_owners_and_managers_hide_a_line_and_show_it_again(client, staff_factory, event, role):
    donation = _given(event, display_name="Troll", message="spam")
    client.force_login(staff_factory(event.campaign, role=role))
    dashboard = reverse("liveroom:dashboard", args=[event.pk])
    page = client.get(dashboard).content.decode()
    assert 'data-ticker-action="hide"' in page
    assert "Troll — $25 — “spam”" in page

    response = client.post(_url(event.pk, donation.pk, "hide"), follow=True)

    assert response.redirect_chain[-1][0] == f"{dashboard}#recent-donations"
    assert f"Donation {donation.pk} is hidden from the ticker." in response.content.decode()
    assert 'data-ticker-action="show"' in response.content.decode()
    assert _hidden(donation) is True
    assert recent_donors(event_id=event.pk) == []

    client.post(_url(event.pk, donation.pk, "show"))

    assert _hidden(donation) is False
    assert [d.display_name for d in recent_donors(event_id=event.pk)] == ["Troll"]


def test_a_json_client_gets_the_new_state(client, staff_factory, event):
    donation = _given(event)
    client.force_login(staff_factory(event.campaign, role="manager"))

    response = client.post(_url(event.pk, donation.pk), HTTP_ACCEPT="application/json")

    assert (response.status_code, response.json()) == (
        200, {"donation_id": donation.pk, "hidden": True}
    )  # fmt: skip


def test_a_viewer_member_sees_no_button_and_is_refused(client, staff_factory, event):
    donation = _given(event, display_name="Troll")
    client.force_login(staff_factory(event.campaign, role="viewer"))
    page = client.get(reverse("liveroom:dashboard", args=[event.pk]))
    assert page.status_code == 200
    assert b"data-ticker-action" not in page.content
    assert "Troll — $25" in page.content.decode()  # they see the line, not the button

    response = client.post(_url(event.pk, donation.pk))

    assert (response.status_code, response.content.decode()) == (403, VIEW_ONLY)
    as_json = client.post(_url(event.pk, donation.pk), HTTP_ACCEPT="application/json")
    assert (as_json.status_code, as_json.json()) == (403, {"error": VIEW_ONLY})
    assert _hidden(donation) is False


def test_another_campaigns_event_is_a_404(client, staff_factory, event):
    other_event = EventFactory(status="live")
    donation = _given(other_event)
    client.force_login(staff_factory(event.campaign, role="owner"))

    response = client.post(_url(other_event.pk, donation.pk))

    assert response.status_code == 404
    assert _hidden(donation) is False


def test_an_unknown_donation_is_a_404(client, staff_factory, event):
    client.force_login(staff_factory(event.campaign, role="manager"))

    assert client.post(_url(event.pk, 987_654)).status_code == 404


def test_a_donation_of_another_event_of_the_same_campaign_is_a_404(client, staff_factory, event):
    sibling = EventFactory(campaign=event.campaign, status="live")
    donation = _given(sibling)
    client.force_login(staff_factory(event.campaign, role="manager"))

    response = client.post(_url(event.pk, donation.pk))

    assert response.status_code == 404
    assert _hidden(donation) is False


def test_an_unknown_action_is_a_404(client, staff_factory, event):
    donation = _given(event)
    client.force_login(staff_factory(event.campaign, role="manager"))

    assert client.post(_url(event.pk, donation.pk, "delete")).status_code == 404
    assert _hidden(donation) is False


def test_get_is_refused(client, staff_factory, event):
    donation = _given(event)
    client.force_login(staff_factory(event.campaign, role="manager"))

    assert client.get(_url(event.pk, donation.pk)).status_code == 405
    assert _hidden(donation) is False


def test_a_non_integer_donation_id_matches_no_url(client, staff_factory, event):
    client.force_login(staff_factory(event.campaign, role="manager"))

    url = f"/staff/events/{event.pk}/ticker/abc/hide/"
    assert client.post(url).status_code == 404


def test_signed_out_visitors_are_sent_to_the_login(client, event):
    donation = _given(event)

    response = client.post(_url(event.pk, donation.pk))

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert _hidden(donation) is False


def test_the_form_needs_the_csrf_token(staff_factory, event):
    donation = _given(event)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_factory(event.campaign, role="manager"))

    assert client.post(_url(event.pk, donation.pk)).status_code == 403
    assert _hidden(donation) is False
