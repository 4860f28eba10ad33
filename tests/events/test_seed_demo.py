import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from events.models import Attestation, Campaign, Event, EventStatus, Membership

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--base-url", "http://127.0.0.1:8000", stdout=out)
    return out.getvalue()


def snapshot():
    return {
        "users": list(get_user_model().objects.values_list("username", "password")),
        "campaigns": list(Campaign.objects.values()),
        "attestations": list(Attestation.objects.values()),
        "memberships": list(Membership.objects.values()),
        "events": list(Event.objects.values()),
    }


def test_it_seeds_a_live_event_and_a_staff_login_that_works():
    output = seed()
    event = Event.objects.get(slug="demo-live")
    assert event.status == EventStatus.LIVE
    assert "Event page:  http://127.0.0.1:8000/events/demo-live/" in output
    password = re.search(r"Admin login: demo / (\S+)", output).group(1)
    user = authenticate(username="demo", password=password)
    assert user is not None
    assert user.is_staff
    assert not user.is_superuser
    assert Membership.objects.get(user=user).role == "owner"


def test_running_it_twice_changes_nothing_and_does_not_print_the_password_again():
    first = seed()
    before = snapshot()
    second = seed()
    assert snapshot() == before
    password = re.search(r"Admin login: demo / (\S+)", first).group(1)
    assert password not in second
    assert "Admin login: demo (password shown when it was created" in second


def test_a_demo_that_ended_is_kept_and_a_new_live_one_made():
    seed()
    ended = Event.objects.get(slug="demo-live")
    assert ended.auto_end_minutes == 0  # stopping `make run` does not end the demo
    Event.objects.filter(pk=ended.pk).update(status=EventStatus.ENDED)

    seed()

    ended.refresh_from_db()
    assert (ended.slug, ended.status) == (f"demo-live-{ended.pk}", EventStatus.ENDED)
    fresh = Event.objects.get(slug="demo-live")
    assert fresh.pk != ended.pk
    assert fresh.status == EventStatus.LIVE
