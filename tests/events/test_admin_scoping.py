"""Staff see and change only their own campaigns' objects: everything else is a 404."""

import pytest
from django.urls import reverse

from events.models import Event, EventStatus
from tests.events.support import campaign_form_data
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_campaigns():
    a = CampaignFactory(name="Alpha for Congress")
    b = CampaignFactory(name="Bravo for Senate")
    return a, b


@pytest.fixture
def manager_of_a(client, two_campaigns, staff_factory):
    client.force_login(staff_factory(two_campaigns[0], "manager"))
    return client


def test_a_manager_gets_404_on_another_campaigns_event_change_page(manager_of_a, two_campaigns):
    theirs = EventFactory(campaign=two_campaigns[1])
    url = reverse("admin:events_event_change", args=[theirs.pk])
    assert manager_of_a.get(url).status_code == 404


def test_a_manager_gets_404_on_another_campaigns_delete_and_history_pages(
    manager_of_a, two_campaigns
):
    theirs = EventFactory(campaign=two_campaigns[1])
    for name in ("admin:events_event_delete", "admin:events_event_history"):
        assert manager_of_a.get(reverse(name, args=[theirs.pk])).status_code == 404
    assert Event.objects.filter(pk=theirs.pk).exists()


def test_a_manager_gets_404_on_another_campaign(manager_of_a, two_campaigns):
    url = reverse("admin:events_campaign_change", args=[two_campaigns[1].pk])
    assert manager_of_a.get(url).status_code == 404


def test_a_manager_opens_their_own_event(manager_of_a, two_campaigns):
    ours = EventFactory(campaign=two_campaigns[0])
    url = reverse("admin:events_event_change", args=[ours.pk])
    assert manager_of_a.get(url).status_code == 200


def test_the_event_list_shows_only_their_campaigns_events(manager_of_a, two_campaigns):
    ours = EventFactory(campaign=two_campaigns[0], title="Our rally")
    EventFactory(campaign=two_campaigns[1], title="Their rally")
    response = manager_of_a.get(reverse("admin:events_event_changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [ours]
    assert "Their rally" not in response.content.decode()
    # The campaign filter lists only campaigns that are visible.
    assert "Bravo for Senate" not in response.content.decode()


def test_the_campaign_list_shows_only_their_campaigns(manager_of_a, two_campaigns):
    response = manager_of_a.get(reverse("admin:events_campaign_changelist"))
    assert list(response.context["cl"].result_list) == [two_campaigns[0]]


def test_an_action_cannot_touch_another_campaigns_event(manager_of_a, two_campaigns):
    ours = EventFactory(campaign=two_campaigns[0])
    theirs = EventFactory(campaign=two_campaigns[1])
    response = manager_of_a.post(
        reverse("admin:events_event_changelist"),
        {"action": "schedule_events", "_selected_action": [ours.pk, theirs.pk]},
    )
    assert response.status_code == 302
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.status == EventStatus.SCHEDULED
    assert theirs.status == EventStatus.DRAFT


def test_an_action_with_only_another_campaigns_event_changes_nothing(manager_of_a, two_campaigns):
    theirs = EventFactory(campaign=two_campaigns[1])
    manager_of_a.post(
        reverse("admin:events_event_changelist"),
        {"action": "cancel_events", "_selected_action": [theirs.pk]},
    )
    theirs.refresh_from_db()
    assert theirs.status == EventStatus.DRAFT


def test_autocomplete_offers_only_their_campaigns(manager_of_a, two_campaigns):
    response = manager_of_a.get(
        reverse("admin:autocomplete"),
        {"app_label": "events", "model_name": "event", "field_name": "campaign", "term": "for"},
    )
    assert response.status_code == 200
    names = [r["text"] for r in response.json()["results"]]
    assert names == ["Alpha for Congress"]


def test_a_manager_cannot_create_an_event_in_another_campaign(manager_of_a, two_campaigns):
    from tests.events.test_admin_validation import form_data

    response = manager_of_a.post(reverse("admin:events_event_add"), form_data(two_campaigns[1]))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["campaign"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not Event.objects.exists()


def test_a_viewer_can_read_but_not_change_or_act(client, two_campaigns, staff_factory):
    client.force_login(staff_factory(two_campaigns[0], "viewer"))
    ours = EventFactory(campaign=two_campaigns[0], title="Rally")
    url = reverse("admin:events_event_change", args=[ours.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    response = client.post(url, {"title": "Renamed"})
    assert response.status_code == 403
    client.post(
        reverse("admin:events_event_changelist"),
        {"action": "schedule_events", "_selected_action": [ours.pk]},
    )
    ours.refresh_from_db()
    assert (ours.title, ours.status) == ("Rally", EventStatus.DRAFT)


def test_a_failed_transition_in_an_action_is_shown_to_staff(manager_of_a, two_campaigns):
    ours = EventFactory(campaign=two_campaigns[0], title="Rally")
    response = manager_of_a.post(
        reverse("admin:events_event_changelist"),
        {"action": "end_events", "_selected_action": [ours.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["“Rally” cannot become ended while draft: it never went live."]


def test_a_superuser_sees_every_campaigns_events(client, superuser, two_campaigns):
    client.force_login(superuser)
    EventFactory(campaign=two_campaigns[0])
    EventFactory(campaign=two_campaigns[1])
    response = client.get(reverse("admin:events_event_changelist"))
    assert response.context["cl"].result_count == 2


def test_a_staff_user_without_membership_sees_no_campaign_models(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert response.context["app_list"] == []
    assert client.get(reverse("admin:events_event_changelist")).status_code == 403


def campaign_form(campaign, memberships, new_rows=()):
    data = campaign_form_data(
        campaign,
        ticker_profanity_filter="on",
        **{
            "memberships-TOTAL_FORMS": str(len(memberships) + len(new_rows)),
            "memberships-INITIAL_FORMS": str(len(memberships)),
        },
    )
    rows = [(m.pk, m.user.username, m.role) for m in memberships]
    rows += [("", username, role) for username, role in new_rows]
    for i, (pk, username, role) in enumerate(rows):
        data.update(
            {
                f"memberships-{i}-id": pk,
                f"memberships-{i}-campaign": campaign.pk,
                f"memberships-{i}-user": username,
                f"memberships-{i}-role": role,
            }
        )
    return data


def test_an_owner_adds_staff_by_username(client, two_campaigns, staff_factory):
    from tests.factories import UserFactory

    campaign = two_campaigns[0]
    owner = staff_factory(campaign, "owner", username="olivia")
    UserFactory(username="nate")
    client.force_login(owner)
    url = reverse("admin:events_campaign_change", args=[campaign.pk])
    assert 'value="olivia"' in client.get(url).content.decode()
    existing = list(campaign.memberships.all())
    response = client.post(url, campaign_form(campaign, existing, [("nate", "viewer")]))
    assert response.status_code == 302
    assert sorted(campaign.memberships.values_list("user__username", "role")) == [
        ("nate", "viewer"),
        ("olivia", "owner"),
    ]


def test_adding_an_unknown_username_says_so_and_adds_nobody(client, two_campaigns, staff_factory):
    campaign = two_campaigns[0]
    owner = staff_factory(campaign, "owner", username="olivia")
    client.force_login(owner)
    url = reverse("admin:events_campaign_change", args=[campaign.pk])
    existing = list(campaign.memberships.all())
    response = client.post(url, campaign_form(campaign, existing, [("nobody", "manager")]))
    assert response.status_code == 200
    assert "No active user has that username." in response.content.decode()
    assert campaign.memberships.count() == 1


def test_a_manager_cannot_change_the_campaigns_staff(client, two_campaigns, staff_factory):
    from tests.factories import UserFactory

    campaign = two_campaigns[0]
    manager = staff_factory(campaign, "manager", username="mia")
    UserFactory(username="nate")
    client.force_login(manager)
    url = reverse("admin:events_campaign_change", args=[campaign.pk])
    existing = list(campaign.memberships.all())
    response = client.post(url, campaign_form(campaign, existing, [("nate", "owner")]))
    assert response.status_code == 403
    assert list(campaign.memberships.values_list("user__username", flat=True)) == ["mia"]


def test_only_the_operator_may_delete_a_campaign(client, two_campaigns, staff_factory):
    client.force_login(staff_factory(two_campaigns[0], "owner"))
    url = reverse("admin:events_campaign_delete", args=[two_campaigns[0].pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert two_campaigns[0].__class__.objects.filter(pk=two_campaigns[0].pk).exists()


def test_an_event_that_has_been_scheduled_cannot_be_deleted(client, two_campaigns, staff_factory):
    client.force_login(staff_factory(two_campaigns[0], "owner"))
    event = EventFactory(campaign=two_campaigns[0], status=EventStatus.SCHEDULED)
    url = reverse("admin:events_event_delete", args=[event.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()


def test_the_change_page_offers_the_next_lifecycle_steps(manager_of_a, two_campaigns):
    event = EventFactory(campaign=two_campaigns[0], status=EventStatus.SCHEDULED)
    response = manager_of_a.get(reverse("admin:events_event_change", args=[event.pk]))
    labels = [a["label"] for a in response.context["lifecycle_actions"]]
    # Going live needs video arriving: it is the show's, on the live dashboard.
    assert labels == ["Cancel the event"]


def test_going_live_is_not_an_admin_step_and_changes_nothing(manager_of_a, two_campaigns):
    event = EventFactory(campaign=two_campaigns[0], status=EventStatus.SCHEDULED, title="Rally")
    url = reverse("admin:events_event_transition", args=[event.pk, "live"])
    assert manager_of_a.post(url).status_code == 404
    event.refresh_from_db()
    assert event.status == EventStatus.SCHEDULED


def test_a_refused_lifecycle_step_is_explained_and_changes_nothing(manager_of_a, two_campaigns):
    event = EventFactory(campaign=two_campaigns[0], title="Rally")
    url = reverse("admin:events_event_transition", args=[event.pk, "ended"])
    response = manager_of_a.post(url, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "“Rally” cannot become ended while draft: it never went live."
    ]
    event.refresh_from_db()
    assert event.status == EventStatus.DRAFT


def test_a_lifecycle_step_on_another_campaigns_event_is_404(manager_of_a, two_campaigns):
    theirs = EventFactory(campaign=two_campaigns[1], status=EventStatus.SCHEDULED)
    url = reverse("admin:events_event_transition", args=[theirs.pk, "live"])
    assert manager_of_a.post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == EventStatus.SCHEDULED


def test_a_lifecycle_step_needs_post_and_a_known_status(manager_of_a, two_campaigns):
    event = EventFactory(campaign=two_campaigns[0], status=EventStatus.SCHEDULED)
    url = reverse("admin:events_event_transition", args=[event.pk, "live"])
    assert manager_of_a.get(url).status_code == 405
    bogus = reverse("admin:events_event_transition", args=[event.pk, "paused"])
    assert manager_of_a.post(bogus).status_code == 404
    event.refresh_from_db()
    assert event.status == EventStatus.SCHEDULED


def test_a_viewer_cannot_take_a_lifecycle_step(client, two_campaigns, staff_factory):
    client.force_login(staff_factory(two_campaigns[0], "viewer"))
    event = EventFactory(campaign=two_campaigns[0], status=EventStatus.SCHEDULED)
    url = reverse("admin:events_event_transition", args=[event.pk, "live"])
    assert client.post(url).status_code == 403
    event.refresh_from_db()
    assert event.status == EventStatus.SCHEDULED
