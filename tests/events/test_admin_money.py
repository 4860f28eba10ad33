"""Money in the events admin reads as money: "$25,000", never the minor units "2500000"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from events.models import EventStatus
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client, campaign, staff_factory):
    client.force_login(staff_factory(campaign, "manager"))
    return client


@pytest.mark.parametrize("status", [EventStatus.ENDED, EventStatus.CANCELLED])
def test_an_event_that_is_over_shows_its_goal_as_money(manager, campaign, status):
    event = EventFactory(campaign=campaign, status=status, goal_minor=2_500_000)
    html = manager.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert '<div class="readonly">$25,000</div>' in html
    assert "2500000" not in html


def test_the_goal_of_an_event_that_is_over_cannot_be_changed(manager, campaign):
    event = EventFactory(campaign=campaign, status=EventStatus.ENDED, goal_minor=2_500_000)
    form = manager.get(reverse("admin:events_event_change", args=[event.pk])).context["adminform"]
    assert "goal_minor" not in form.form.fields


def test_a_scheduled_events_goal_is_edited_in_dollars(manager, campaign):
    event = EventFactory(campaign=campaign, status=EventStatus.SCHEDULED, goal_minor=2_500_000)
    html = manager.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert 'name="goal_minor" value="25000"' in html
    assert "2500000" not in html


def test_the_event_list_shows_goals_as_money(manager, campaign):
    EventFactory(campaign=campaign, status=EventStatus.ENDED, goal_minor=2_500_000)
    EventFactory(campaign=campaign, status=EventStatus.SCHEDULED, goal_minor=1_250_050)
    html = manager.get(reverse("admin:events_event_changelist")).content.decode()
    assert '<td class="field-goal_display">$25,000</td>' in html
    assert '<td class="field-goal_display">$12,500.50</td>' in html
    assert "2500000" not in html
