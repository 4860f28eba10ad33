"""The show's controls on the staff's dashboard (liveroom/greenroom.py): who may press them,
what they refuse and say, the green room's signed preview, the public page before, during and
after the show, and the money raised before, during and after it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from donations.selectors import event_show_phases
from events.admin import lifecycle
from events.models import Event, EventStatus
from liveroom.greenroom import VIEW_ONLY
from streaming import services as stream_services
from streaming import show
from streaming.health import StreamHealth
from streaming.models import Stream
from tests.donations.factories import DonationFactory
from tests.factories import CampaignFactory, EventFactory
from tests.support.streaming import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def backstage(scheduled_event, settings, tmp_path):
    """The scheduled event with video arriving: in the green room."""
    settings.MEDIA_ROOT = tmp_path
    stream, _ = stream_services.create_stream(event_id=scheduled_event.pk)
    deliver(stream, 0, 2)
    scheduled_event.refresh_from_db()
    assert scheduled_event.status == EventStatus.BACKSTAGE
    return scheduled_event


def _action(event, action):
    return reverse("liveroom:show-action", args=[event.pk, action])


def _status(event) -> str:
    return Event.objects.get(pk=event.pk).status


def test_a_manager_takes_the_show_live_from_the_dashboard(client, staff_factory, backstage):
    client.force_login(staff_factory(backstage.campaign, role="manager"))
    dashboard = client.get(reverse("liveroom:dashboard", args=[backstage.pk]))
    assert b'data-show-action="go-live"' in dashboard.content
    assert b"The green room" in dashboard.content

    response = client.post(_action(backstage, "go-live"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("liveroom:dashboard", args=[backstage.pk])
    assert "is now live" in response.content.decode()
    assert _status(backstage) == EventStatus.LIVE
    assert b'data-show-action="end"' in response.content


def test_go_live_without_a_stream_says_why_and_changes_nothing(
    client, staff_factory, scheduled_event
):
    client.force_login(staff_factory(scheduled_event.campaign, role="owner"))

    response = client.post(_action(scheduled_event, "go-live"), follow=True)

    assert "This event has no stream yet" in response.content.decode()
    assert _status(scheduled_event) == EventStatus.SCHEDULED
    as_json = client.post(_action(scheduled_event, "go-live"), HTTP_ACCEPT="application/json")
    assert as_json.status_code == 409
    assert as_json.json()["error"].startswith("This event has no stream yet")


def test_a_viewer_member_sees_no_buttons_and_is_refused(client, staff_factory, backstage):
    client.force_login(staff_factory(backstage.campaign, role="viewer"))
    dashboard = client.get(reverse("liveroom:dashboard", args=[backstage.pk]))
    assert dashboard.status_code == 200
    assert b"data-show-action" not in dashboard.content
    assert b"Your role is view-only" in dashboard.content

    response = client.post(_action(backstage, "go-live"))

    assert response.status_code == 403
    assert response.content.decode() == VIEW_ONLY
    assert _status(backstage) == EventStatus.BACKSTAGE


def test_staff_of_another_campaign_cannot_reach_the_show(client, staff_factory, backstage):
    client.force_login(staff_factory(CampaignFactory(), role="owner"))
    assert client.post(_action(backstage, "go-live")).status_code == 404
    assert client.get(reverse("liveroom:preview", args=[backstage.pk])).status_code == 404
    assert _status(backstage) == EventStatus.BACKSTAGE


def test_signed_out_visitors_go_to_the_login(client, backstage):
    response = client.post(_action(backstage, "go-live"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert _status(backstage) == EventStatus.BACKSTAGE


def test_an_unknown_action_is_a_404(client, staff_factory, backstage):
    client.force_login(staff_factory(backstage.campaign, role="manager"))
    assert client.post(_action(backstage, "explode")).status_code == 404


def test_end_then_resume_from_the_dashboard(client, staff_factory, backstage):
    client.force_login(staff_factory(backstage.campaign, role="manager"))
    client.post(_action(backstage, "go-live"))
    client.post(_action(backstage, "end"))
    assert _status(backstage) == EventStatus.ENDED
    client.post(_action(backstage, "resume"))
    assert _status(backstage) == EventStatus.LIVE


def test_resume_after_the_limit_is_refused_on_the_dashboard(
    client, staff_factory, backstage, settings
):
    settings.SHOW_RESUME_MINUTES = 10
    client.force_login(staff_factory(backstage.campaign, role="manager"))
    client.post(_action(backstage, "go-live"))
    client.post(_action(backstage, "end"))
    Event.objects.filter(pk=backstage.pk).update(ended_at=timezone.now() - timedelta(minutes=11))

    response = client.post(_action(backstage, "resume"), HTTP_ACCEPT="application/json")

    assert response.status_code == 409
    assert "within 10 minutes of its end" in response.json()["error"]
    assert _status(backstage) == EventStatus.ENDED


def test_the_preview_is_a_signed_url_for_staff_only(client, staff_factory, backstage):
    client.force_login(staff_factory(backstage.campaign, role="viewer"))
    answer = client.get(reverse("liveroom:preview", args=[backstage.pk]))
    assert "private, no-store" in answer["Cache-Control"]
    body = answer.json()
    assert body["status"] == "backstage"
    assert body["state"] == "live"
    assert body["url"].startswith("/s/")
    public = client.get(reverse("liveroom:stream", args=[backstage.slug])).json()
    assert public["status"] == "scheduled"
    assert public["master_url"] is None


def test_the_public_page_counts_down_while_backstage(client, backstage):
    page = client.get(backstage.get_absolute_url()).content.decode()
    assert 'data-status="scheduled"' in page
    assert "data-countdown" in page
    assert "Backstage" not in page


def test_the_replay_page_keeps_giving_within_the_window(client, event):
    Event.objects.filter(pk=event.pk).update(
        status=EventStatus.ENDED, ended_at=timezone.now() - timedelta(days=2), giving_window_days=30
    )
    page = client.get(event.get_absolute_url()).content.decode()
    assert 'aria-label="Donate"' in page
    assert "data-live-room" in page
    Event.objects.filter(pk=event.pk).update(ended_at=timezone.now() - timedelta(days=31))
    closed = client.get(event.get_absolute_url()).content.decode()
    assert 'aria-label="Donate"' not in closed
    assert "data-live-room" in closed  # the final tally stays


def test_gifts_are_reported_before_during_and_after_the_show(client, staff_factory, event):
    went = timezone.now() - timedelta(hours=2)
    ended = timezone.now() - timedelta(hours=1)
    Event.objects.filter(pk=event.pk).update(
        status=EventStatus.ENDED, went_live_at=went, ended_at=ended
    )
    for amount, at in (
        (1_000, went - timedelta(minutes=5)),
        (2_000, went + timedelta(minutes=5)),
        (3_000, ended - timedelta(seconds=1)),
        (4_000, ended + timedelta(minutes=5)),
        (5_000, ended + timedelta(minutes=6)),
    ):
        donation = DonationFactory(
            event=event, status="succeeded", gift_minor=amount, amount_minor=amount,
            net_minor=amount, refcode="sms",
        )  # fmt: skip
        type(donation).objects.filter(pk=donation.pk).update(created_at=at)

    phases = event_show_phases(event_id=event.pk, went_live_at=went, ended_at=ended)

    assert (phases.before_minor, phases.during_minor, phases.after_minor) == (1_000, 5_000, 9_000)
    assert (phases.before_donations, phases.during_donations, phases.after_donations) == (1, 2, 2)
    client.force_login(staff_factory(event.campaign, role="viewer"))
    page = client.get(reverse("liveroom:dashboard", args=[event.pk])).content.decode()
    assert 'data-dash="after-show">$90<' in page
    assert 'data-dash="during-show">$50<' in page


def test_the_admin_no_longer_goes_live_without_video(db):
    # Going live is the show's (it needs video arriving): the lifecycle table does not offer it.
    assert EventStatus.LIVE not in {step.to for step in lifecycle.LIFECYCLE}


def test_an_event_with_no_video_cannot_go_live_through_the_service(db):
    event = EventFactory(status=EventStatus.SCHEDULED)
    with pytest.raises(show.ShowRefused, match="no stream yet"):
        show.go_live(event_id=event.pk)


def test_the_green_room_shows_the_streams_health_and_its_warnings(client, staff_factory, backstage):
    now = timezone.now()
    figures = StreamHealth(
        measured_at=now, rendition="v", renditions=1, target_duration_s=2, segments=3,
        duration_s=6.0, total_kbps=2_600, video_kbps=2_500, video_codec="h264", width=1280,
        height=720, fps=30.0, keyframe_interval_s=6.0, keyframe_interval_at_least=False,
        audio_codec=None, audio_sample_rate=None, audio_channels=None, av_drift_ms=None,
        warnings=("No audio", "Keyframe interval 6 s: set it to 2 s in OBS"),
    )  # fmt: skip
    Stream.objects.filter(event=backstage).update(health=figures.to_json(), health_at=now)
    client.force_login(staff_factory(backstage.campaign, role="manager"))

    page = client.get(reverse("liveroom:dashboard", args=[backstage.pk])).content.decode()

    assert "1280\u00d7720, h264, 30 fps" in page
    assert '<li class="dash-warning">No audio</li>' in page
    assert "Keyframe interval 6 s: set it to 2 s in OBS" in page
    assert 'data-show-action="go-live"' in page


def test_the_dashboard_says_where_and_how_the_encoder_sends(client, staff_factory, backstage):
    stream = Stream.objects.get(event=backstage)
    client.force_login(staff_factory(backstage.campaign, role="viewer"))

    page = client.get(reverse("liveroom:dashboard", args=[backstage.pk])).content.decode()

    assert "Your encoder" in page
    assert f"{stream.public_id}?key=" in page
    assert f"/streaming/ingest/{stream.public_id}" in page
    assert "Keyframe Interval" in page
    assert "sk_" not in page  # never a key
