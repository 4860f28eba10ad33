"""Registrations in the admin: read-only, scoped to the staff member's campaigns, with a CSV
export that holds only what they may see."""

from __future__ import annotations

import pytest
from django.urls import reverse

from events.models import EventStatus, Registration
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:events_registration_changelist"


@pytest.fixture
def two_campaigns_registrations():
    ours = EventFactory(
        campaign=CampaignFactory(name="Alpha for Congress"),
        status=EventStatus.SCHEDULED,
        registration_required=True,
        title="Alpha town hall",
    )
    theirs = EventFactory(
        campaign=CampaignFactory(name="Bravo for Senate"),
        status=EventStatus.SCHEDULED,
        registration_required=True,
        title="Bravo rally",
    )
    mine = Registration.objects.create(
        event=ours, name="Ada Lovelace", email="ada@example.org", token="token-ours"
    )
    other = Registration.objects.create(
        event=theirs, name="Grace Hopper", email="grace@example.org", token="token-theirs"
    )
    return ours, theirs, mine, other


@pytest.fixture
def manager_of_alpha(client, staff_factory, two_campaigns_registrations):
    client.force_login(staff_factory(two_campaigns_registrations[0].campaign, "manager"))
    return client


def test_a_manager_lists_only_their_campaigns_registrations(
    manager_of_alpha, two_campaigns_registrations
):
    _, _, mine, _ = two_campaigns_registrations
    response = manager_of_alpha.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]
    html = response.content.decode()
    assert "grace@example.org" not in html
    assert "Bravo rally" not in html  # nor in the event filter
    assert "token-ours" not in html


def test_a_manager_searches_by_email(manager_of_alpha, two_campaigns_registrations):
    ours, *_ = two_campaigns_registrations
    Registration.objects.create(event=ours, name="Bob", email="bob@example.org", token="b")
    response = manager_of_alpha.get(reverse(CHANGELIST), {"q": "ada@"})
    assert [r.email for r in response.context["cl"].result_list] == ["ada@example.org"]


def test_a_manager_filters_by_event(manager_of_alpha, two_campaigns_registrations):
    ours, *_ = two_campaigns_registrations
    other_event = EventFactory(campaign=ours.campaign, registration_required=True)
    Registration.objects.create(event=other_event, name="Bob", email="bob@example.org", token="b")
    response = manager_of_alpha.get(reverse(CHANGELIST), {"event__id__exact": other_event.pk})
    assert [r.email for r in response.context["cl"].result_list] == ["bob@example.org"]


def test_a_manager_gets_404_on_another_campaigns_registration(
    manager_of_alpha, two_campaigns_registrations
):
    _, _, _, other = two_campaigns_registrations
    url = reverse("admin:events_registration_change", args=[other.pk])
    assert manager_of_alpha.get(url).status_code == 404


def test_a_manager_views_their_registration_read_only_without_its_token(
    manager_of_alpha, two_campaigns_registrations
):
    _, _, mine, _ = two_campaigns_registrations
    response = manager_of_alpha.get(reverse("admin:events_registration_change", args=[mine.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "ada@example.org" in html
    assert "token-ours" not in html
    assert 'name="_save"' not in html


def test_nobody_adds_changes_or_deletes_registrations_in_the_admin(
    client, superuser, two_campaigns_registrations
):
    _, _, mine, _ = two_campaigns_registrations
    client.force_login(superuser)
    assert client.get(reverse("admin:events_registration_add")).status_code == 403
    change = reverse("admin:events_registration_change", args=[mine.pk])
    response = client.post(change, {"name": "Changed", "email": "x@example.org"})
    assert response.status_code == 403
    delete = reverse("admin:events_registration_delete", args=[mine.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Registration.objects.get(pk=mine.pk).name == "Ada Lovelace"
    assert Registration.objects.count() == 2


def test_the_superuser_sees_every_campaigns_registrations(
    client, superuser, two_campaigns_registrations
):
    client.force_login(superuser)
    response = client.get(reverse(CHANGELIST))
    assert {r.email for r in response.context["cl"].result_list} == {
        "ada@example.org",
        "grace@example.org",
    }


def test_the_csv_export_holds_only_the_managers_rows_even_when_others_are_posted(
    manager_of_alpha, two_campaigns_registrations
):
    _, _, mine, other = two_campaigns_registrations
    Registration.objects.filter(pk=mine.pk).update(name="=HYPERLINK(1)")
    response = manager_of_alpha.post(
        reverse(CHANGELIST),
        {
            "action": "export_registrations",
            "_selected_action": [mine.pk, other.pk],
            "index": 0,
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="registrations.csv"'
    lines = response.content.decode().splitlines()
    assert lines[0] == (
        '"event","event_slug","name","email","registered_at","confirmation_sent_at"'
    )
    assert len(lines) == 2
    mine.refresh_from_db()
    # Every cell quoted, and the formula shown as text (the one CSV writer, events.exports).
    assert lines[1] == (
        f'"Alpha town hall","{mine.event.slug}","\'=HYPERLINK(1)","ada@example.org",'
        f'"{mine.created_at.isoformat()}",""'
    )


def test_a_member_of_no_campaign_does_not_see_registrations(client, staff_factory):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="loner"))
    assert client.get(reverse(CHANGELIST)).status_code == 403
