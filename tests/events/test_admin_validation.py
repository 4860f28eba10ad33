"""What staff see when they type something wrong into the event form."""

import pytest
from django.urls import reverse

from events.models import CapacityTier, Event

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:events_event_add")


@pytest.fixture
def manager_client(client, campaign, staff_factory):
    client.force_login(staff_factory(campaign, "manager"))
    return client


def form_data(campaign, **overrides):
    data = {
        "campaign": campaign.pk,
        "title": "Town hall",
        "slug": "town-hall",
        "description": "",
        "visibility": "public",
        "starts_at_0": "2030-05-01",
        "starts_at_1": "19:00:00",
        "ends_at_0": "2030-05-01",
        "ends_at_1": "21:00:00",
        "capacity_tier": CapacityTier.objects.get(max_attendees=10_000).pk,
        "goal_minor": "50,000",
        "suggested_amounts": "25, 50, 100",
        "auto_end_minutes": "30",
        "giving_window_days": "30",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def errors_of(response):
    return response.context["adminform"].form.errors


def test_it_creates_an_event_in_minor_units_as_a_draft(manager_client, campaign):
    response = manager_client.post(ADD_URL, form_data(campaign))
    assert response.status_code == 302
    event = Event.objects.get(slug="town-hall")
    assert event.goal_minor == 5_000_000
    assert event.suggested_amounts == [2_500, 5_000, 10_000]
    assert event.status == "draft"
    assert event.campaign == campaign


def test_it_refuses_an_end_before_the_start(manager_client, campaign):
    response = manager_client.post(ADD_URL, form_data(campaign, ends_at_1="18:00:00"))
    assert response.status_code == 200
    assert errors_of(response)["ends_at"] == ["The event must end after it starts."]
    assert not Event.objects.exists()


@pytest.mark.parametrize("goal", ["0", "-5"])
def test_it_refuses_a_goal_that_is_not_positive(manager_client, campaign, goal):
    response = manager_client.post(ADD_URL, form_data(campaign, goal_minor=goal))
    assert response.status_code == 200
    assert "The goal must be a positive amount." in errors_of(response)["goal_minor"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "goal", ["lots", "²", "\u0665\u0660", "1e9", "NaN", "Infinity", "9" * 5000]
)
def test_it_refuses_a_goal_that_is_not_an_amount(manager_client, campaign, goal):
    response = manager_client.post(ADD_URL, form_data(campaign, goal_minor=goal))
    assert response.status_code == 200
    assert errors_of(response)["goal_minor"] == ["Enter an amount such as 25 or 25.50."]
    assert not Event.objects.exists()


def test_it_refuses_a_goal_beyond_a_billion(manager_client, campaign):
    response = manager_client.post(ADD_URL, form_data(campaign, goal_minor="1000000000.01"))
    assert errors_of(response)["goal_minor"] == ["Enter an amount of at most 1,000,000,000."]
    assert not Event.objects.exists()


def test_it_refuses_a_duplicate_slug(manager_client, campaign):
    assert manager_client.post(ADD_URL, form_data(campaign)).status_code == 302
    response = manager_client.post(ADD_URL, form_data(campaign, title="Another"))
    assert response.status_code == 200
    assert errors_of(response)["slug"] == ["Event with this Slug already exists."]
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("25, 0, 100", "Suggested amounts must be positive whole numbers: '0' is not."),
        ("25, -10", "Suggested amounts must be positive whole numbers: '-10' is not."),
        ("25, 12.50", "Suggested amounts must be positive whole numbers: '12.50' is not."),
        ("25, ten", "Suggested amounts must be positive whole numbers: 'ten' is not."),
        ("25, ²", "Suggested amounts must be positive whole numbers: '²' is not."),
        (
            "25, \u0665\u0660",  # Arabic-Indic digits
            "Suggested amounts must be positive whole numbers: '\u0665\u0660' is not.",
        ),
        (
            "25, " + "9" * 5000,
            "Suggested amounts must be positive whole numbers: '99999999999999999999…' is not.",
        ),
        ("25, 2000000000", "Suggested amounts must be at most 1,000,000,000: '2000000000' is not."),
        ("1, 2, 3, 4, 5, 6, 7, 8, 9", "Offer at most 8 suggested amounts."),
    ],
)
def test_it_refuses_suggested_amounts_that_are_not_positive_integers(
    manager_client, campaign, typed, message
):
    response = manager_client.post(ADD_URL, form_data(campaign, suggested_amounts=typed))
    assert response.status_code == 200
    assert errors_of(response)["suggested_amounts"] == [message]
    assert not Event.objects.exists()


def test_the_model_refuses_suggested_amounts_that_are_not_positive_integers(campaign):
    from django.core.exceptions import ValidationError

    from tests.factories import EventFactory

    event = EventFactory.build(campaign=campaign, suggested_amounts=[2500, 1.5])
    with pytest.raises(ValidationError) as exc:
        event.full_clean()
    assert exc.value.message_dict["suggested_amounts"] == [
        "Suggested amounts must be positive whole numbers: 1.5 is not."
    ]


def test_the_change_form_shows_amounts_in_whole_currency_units(manager_client, campaign):
    from tests.factories import EventFactory

    event = EventFactory(campaign=campaign, goal_minor=1_250_050, suggested_amounts=[2_500, 10_000])
    response = manager_client.get(reverse("admin:events_event_change", args=[event.pk]))
    html = response.content.decode()
    assert 'value="12500.50"' in html
    assert 'value="25, 100"' in html


def test_a_goal_changed_in_the_admin_is_announced_to_the_live_room(
    manager_client, campaign, django_capture_on_commit_callbacks
):
    from events import livebus, redisclients
    from tests.factories import EventFactory

    event = EventFactory(campaign=campaign, status="live")
    changes = livebus.key(event.pk, "changes")
    before = int(redisclients.sync_client().get(changes) or 0)
    url = reverse("admin:events_event_change", args=[event.pk])
    data = form_data(campaign, slug=event.slug, goal_minor="75,000")
    for name in ("campaign", "slug"):  # read-only once the event is live
        data.pop(name)
    # The change page's inlines of simulcast destinations (streaming's), milestones and match
    # offers (donations'), none here.
    for prefix in ("simulcast_destinations", "milestones", "match_offers"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(url, data)
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.goal_minor == 7_500_000
    assert int(redisclients.sync_client().get(changes)) == before + 1
