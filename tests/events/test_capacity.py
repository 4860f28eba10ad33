"""Capacity that stretches (events/capacity.py, liveroom/capacityviews.py): staff told at 80%
and 95% of the tier, once per tier, by the dashboard and by email; an owner moving the event to
a larger tier in one action; the pre-authorised automatic move; and what is refused."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from events import capacity, capacity_mail, services
from events.models import CapacityNotice, CapacityTier, Event, EventStatus
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiers():
    small = CapacityTier.objects.create(name="Small", max_attendees=100)
    medium = CapacityTier.objects.create(name="Medium", max_attendees=1_000)
    large = CapacityTier.objects.create(name="Large", max_attendees=20_000)
    return small, medium, large


@pytest.fixture
def show(tiers, staff_factory):
    event = EventFactory(status=EventStatus.LIVE, capacity_tier=tiers[0], title="Rally")
    staff_factory(event.campaign, "owner", email="owner@example.com")
    staff_factory(event.campaign, "manager", email="manager@example.com")
    staff_factory(event.campaign, "viewer", email="viewer@example.com")
    return event


def sample(event, viewers):
    services.record_viewer_sample(event_id=event.pk, at=timezone.now(), viewers=viewers)


def mailed():
    """What the notices' outbox sends (the task on commit and beat's sweep run this)."""
    capacity_mail.send_due_notices()
    return mail.outbox


def notices(event):
    return list(
        CapacityNotice.objects.filter(event=event)
        .order_by("created_at", "id")
        .values_list("kind", "tier__name", "viewers")
    )


def test_staff_are_told_at_80_and_95_percent_once_each(show, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sample(show, 79)
        sample(show, 80)
        sample(show, 85)
        sample(show, 96)
        sample(show, 99)

    assert notices(show) == [("80", "Small", 80), ("95", "Small", 96)]
    subjects = [m.subject for m in mailed()]
    assert subjects == ["Rally: 80% full (80 watching)", "Rally: 95% full (96 watching)"]
    assert sorted(mail.outbox[0].to) == ["manager@example.com", "owner@example.com"]
    assert "/staff/events/" in mail.outbox[0].body


def test_a_jump_straight_past_95_is_one_notice(show, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sample(show, 100)
    assert notices(show) == [("95", "Small", 100)]
    assert len(mailed()) == 1


def test_an_owner_moves_the_event_to_a_larger_tier_in_one_action(
    client, show, tiers, staff_factory, django_capture_on_commit_callbacks
):
    owner = show.campaign.memberships.get(role="owner").user
    client.force_login(owner)
    sample(show, 90)
    page = client.get(f"/staff/events/{show.pk}/dashboard/")
    assert b"The audience reached 80% of the tier" in page.content
    assert f'data-capacity-tier="{tiers[1].pk}"'.encode() in page.content

    with django_capture_on_commit_callbacks(execute=True):
        moved = client.post(f"/staff/events/{show.pk}/capacity/", {"tier": tiers[1].pk})

    assert moved.status_code == 302
    show.refresh_from_db()
    assert show.capacity_tier == tiers[1]
    assert notices(show)[-1] == ("upgraded", "Medium", 90)
    assert mailed()[-1].subject == "Rally: moved to Medium (1,000 attendees)"
    assert f"by {owner.get_username()} from Small to Medium" in mail.outbox[-1].body
    page = client.get(f"/staff/events/{show.pk}/dashboard/")
    assert b"Moved to Medium (1000 attendees)" in page.content
    # At 80% of the new tier staff are told again.
    sample(show, 800)
    assert notices(show)[-1] == ("80", "Medium", 800)


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_only_owners_may_move_the_tier(client, show, tiers, role):
    client.force_login(show.campaign.memberships.get(role=role).user)
    page = client.get(f"/staff/events/{show.pk}/dashboard/")
    assert b"data-capacity-tier" not in page.content

    refused = client.post(f"/staff/events/{show.pk}/capacity/", {"tier": tiers[1].pk})

    assert refused.status_code == 403
    assert refused.content.decode() == (
        "Only the campaign's owners can move the event to a larger tier."
    )
    show.refresh_from_db()
    assert show.capacity_tier == tiers[0]


def test_another_campaigns_owner_gets_a_404(client, show, tiers, staff_factory):
    other = EventFactory(status=EventStatus.LIVE)
    client.force_login(staff_factory(other.campaign, "owner"))
    answer = client.post(f"/staff/events/{show.pk}/capacity/", {"tier": tiers[1].pk})
    assert answer.status_code == 404
    show.refresh_from_db()
    assert show.capacity_tier == tiers[0]
    assert not CapacityNotice.objects.exists()


@pytest.mark.parametrize(
    ("tier", "message"),
    [
        ("small", "Choose a tier larger than the event's Small (100 attendees)."),
        ("nothing", "That capacity tier does not exist. Reload the page."),
        ("", "That capacity tier does not exist. Reload the page."),
    ],
)
def test_a_tier_that_is_not_larger_or_not_there_is_refused(client, show, tiers, tier, message):
    client.force_login(show.campaign.memberships.get(role="owner").user)
    value = {"small": str(tiers[0].pk), "nothing": "999999", "": "x"}[tier]

    refused = client.post(
        f"/staff/events/{show.pk}/capacity/", {"tier": value}, HTTP_ACCEPT="application/json"
    )

    assert refused.status_code == 400
    assert refused.json() == {"error": message}
    assert not CapacityNotice.objects.exists()


def test_an_event_that_is_over_keeps_its_tier(show, tiers):
    Event.objects.filter(pk=show.pk).update(status=EventStatus.ENDED)
    with pytest.raises(capacity.CapacityRefused, match="The event is over"):
        capacity.upgrade_capacity(event_id=show.pk, tier_id=tiers[1].pk, by_user_id=None)


def test_a_pre_authorised_upgrade_happens_once_at_95_percent(
    show, tiers, django_capture_on_commit_callbacks
):
    Event.objects.filter(pk=show.pk).update(auto_upgrade_tier=tiers[2])
    with django_capture_on_commit_callbacks(execute=True):
        sample(show, 94)
        assert Event.objects.get(pk=show.pk).capacity_tier == tiers[0]
        sample(show, 95)

    show.refresh_from_db()
    assert (show.capacity_tier, show.auto_upgrade_tier) == (tiers[2], None)
    assert notices(show) == [("80", "Small", 94), ("95", "Small", 95), ("upgraded", "Large", 95)]
    assert "by itself (its pre-authorised upgrade)" in mailed()[-1].body
    sample(show, 19_200)  # 96% of Large: told, and nothing more to move to
    assert Event.objects.get(pk=show.pk).capacity_tier == tiers[2]
    assert notices(show)[-1] == ("95", "Large", 19_200)


def test_a_pre_authorised_tier_must_be_larger(show, tiers):
    show.auto_upgrade_tier = tiers[0]
    with pytest.raises(ValidationError) as refused:
        show.full_clean()
    assert refused.value.message_dict["auto_upgrade_tier"] == [
        "Choose a tier larger than the event's (100 attendees), or none."
    ]


def test_a_failed_email_is_sent_by_the_next_sweep(show, settings, monkeypatch):
    sample(show, 85)
    calls = []

    def refuse(*args, **kwargs):
        calls.append(1)
        raise OSError("SMTP away")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    assert capacity_mail.send_due_notices() == 0
    monkeypatch.undo()
    assert CapacityNotice.objects.get().mail_due is True

    assert capacity_mail.send_due_notices() == 1
    assert capacity_mail.send_due_notices() == 0
    assert calls == [1]
    assert len(mail.outbox) == 1


def test_samples_of_an_event_not_live_open_nothing(tiers):
    event = EventFactory(status=EventStatus.SCHEDULED, capacity_tier=tiers[0])
    sample(event, 100)
    assert not CapacityNotice.objects.exists()
