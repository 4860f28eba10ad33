"""factory_boy factories for the events app, shared by every app's tests."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from events.elections import cycle_of, gift_date
from events.models import (
    Campaign,
    CapacityTier,
    Election,
    Event,
    EventStatus,
    Membership,
    Role,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    is_staff = True
    password = factory.django.Password("correct horse battery")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    slug = factory.Sequence(lambda n: f"campaign-{n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} Committee")
    currency = "usd"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    campaign = factory.SubFactory(CampaignFactory)
    role = Role.MANAGER


def _tier() -> CapacityTier:
    # The migration seeds it; a transactional test's flush removes it: bring it back.
    return CapacityTier.objects.get_or_create(max_attendees=10_000, defaults={"name": "10k"})[0]


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    campaign = factory.SubFactory(CampaignFactory)
    title = factory.Sequence(lambda n: f"Event {n}")
    slug = factory.Sequence(lambda n: f"event-{n}")
    description = "An evening with the campaign."
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=2))
    capacity_tier = factory.LazyFunction(_tier)
    goal_minor = 5_000_000
    suggested_amounts = factory.LazyFunction(lambda: [2_500, 5_000, 10_000])
    status = EventStatus.DRAFT


class ElectionFactory(factory.django.DjangoModelFactory):
    """An election `days` from today (as gifts count days: events.elections.gift_date), in
    today's cycle whatever its date (so that a test's elections share a cycle on any day of
    the year; a test of two cycles names them)."""

    class Meta:
        model = Election
        exclude = ["days"]

    campaign = factory.SubFactory(CampaignFactory)
    kind = "primary"
    days = 30
    date = factory.LazyAttribute(lambda o: gift_date() + timedelta(days=o.days))
    cycle = factory.LazyFunction(lambda: cycle_of(gift_date()))
