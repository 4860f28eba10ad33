"""Streams in the staff admin: the key is shown once, rotated by managers, scoped by campaign."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.urls import reverse

from events.models import EventStatus
from streaming import services, show
from streaming.models import Stream
from tests.factories import EventFactory
from tests.support.streaming import deliver

pytestmark = pytest.mark.django_db


def shown_key(html: str) -> str:
    return re.search(r'id="stream-key" type="text" readonly value="(sk_[^"]+)"', html)[1]


def test_creating_a_stream_shows_its_key_once_with_a_copy_button(manager, scheduled_event):
    response = manager.post(
        reverse("admin:streaming_stream_add"),
        {"event": scheduled_event.pk, "mode": "push", "relay_url": "", "record": "on"},
    )
    html = response.content.decode()
    stream = Stream.objects.get(event=scheduled_event)
    key = shown_key(html)
    assert response.status_code == 200
    assert 'id="copy-key"' in html
    assert stream.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert "no-store" in response["Cache-Control"]
    change = manager.get(reverse("admin:streaming_stream_change", args=[stream.pk]))
    assert key not in change.content.decode()


def test_rotating_shows_a_new_key_and_the_old_one_stops_matching(manager, stream_and_key):
    stream, old_key = stream_and_key
    response = manager.post(reverse("admin:streaming_stream_rotate_key", args=[stream.pk]))
    new_key = shown_key(response.content.decode())
    stream.refresh_from_db()
    assert new_key != old_key
    assert stream.key_hash == hashlib.sha256(new_key.encode()).hexdigest()


def test_rotating_needs_a_post(manager, stream):
    before = stream.key_hash
    response = manager.get(reverse("admin:streaming_stream_rotate_key", args=[stream.pk]))
    stream.refresh_from_db()
    assert (response.status_code, stream.key_hash) == (405, before)


def test_a_viewer_cannot_rotate_the_key(client, campaign, staff_factory, stream):
    client.force_login(staff_factory(campaign, role="viewer"))
    before = stream.key_hash
    response = client.post(reverse("admin:streaming_stream_rotate_key", args=[stream.pk]))
    stream.refresh_from_db()
    assert (response.status_code, stream.key_hash) == (403, before)


def test_another_campaigns_stream_is_a_404(manager):
    stream, _ = services.create_stream(event_id=EventFactory(status=EventStatus.SCHEDULED).pk)
    before = stream.key_hash
    response = manager.post(reverse("admin:streaming_stream_rotate_key", args=[stream.pk]))
    change = manager.get(reverse("admin:streaming_stream_change", args=[stream.pk]))
    stream.refresh_from_db()
    assert (response.status_code, change.status_code, stream.key_hash) == (404, 404, before)


def test_the_list_shows_only_the_staffs_campaigns_streams(manager, stream):
    services.create_stream(event_id=EventFactory(status=EventStatus.SCHEDULED).pk)
    response = manager.get(reverse("admin:streaming_stream_changelist"))
    assert list(response.context["cl"].result_list) == [stream]


def test_staff_can_end_a_stream_and_its_live_event_ends(manager, stream):
    deliver(stream, 0, 1)
    show.go_live(event_id=stream.event_id)
    response = manager.post(reverse("admin:streaming_stream_end", args=[stream.pk]))
    stream.refresh_from_db()
    assert response.status_code == 302
    assert (stream.state, stream.event.status) == ("ended", EventStatus.ENDED)


def test_staff_choose_to_keep_the_practice_in_the_replay(manager, scheduled_event):
    manager.post(
        reverse("admin:streaming_stream_add"),
        {"event": scheduled_event.pk, "mode": "push", "relay_url": "", "record": "on",
         "record_practice": "on"},
    )  # fmt: skip
    stream = Stream.objects.get(event=scheduled_event)
    assert stream.record_practice is True
    response = manager.post(
        reverse("admin:streaming_stream_change", args=[stream.pk]),
        {"relay_url": "", "ladder": stream.ladder, "captions": "off"},
    )
    assert response.status_code == 302
    stream.refresh_from_db()
    assert stream.record_practice is False


def test_staff_choose_low_latency_per_event_and_a_bad_choice_is_a_form_error(manager, stream):
    url = reverse("admin:streaming_stream_change", args=[stream.pk])
    form = {"relay_url": "", "ladder": stream.ladder, "captions": "off"}
    response = manager.post(url, {**form, "latency": "lowest"})
    assert response.status_code == 200
    assert "Select a valid choice. lowest is not one of the available choices." in (
        response.content.decode()
    )
    assert manager.post(url, {**form, "latency": "low"}).status_code == 302
    stream.refresh_from_db()
    assert stream.latency == "low"


def test_ending_a_stream_before_the_show_is_refused_and_changes_nothing(manager, stream):
    deliver(stream, 0, 1)  # backstage

    response = manager.post(reverse("admin:streaming_stream_end", args=[stream.pk]), follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert messages[0].startswith("The show is not live (it is backstage).")
    stream.refresh_from_db()
    assert (stream.state, stream.event.status) == ("live", EventStatus.BACKSTAGE)
