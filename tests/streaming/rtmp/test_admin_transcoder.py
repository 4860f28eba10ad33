"""Staff see the transcoder's health and choose the ladder and signed playback."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from streaming.models import Stream, Transcoder

pytestmark = pytest.mark.django_db


def test_staff_see_when_the_transcoder_cannot_keep_real_time(manager, stream):
    now = timezone.now()
    Transcoder.objects.create(
        stream=stream, publishing=True, pid=4242, rungs="720p, 480p, 360p", speed=0.81,
        behind_since=now, restarts=2, started_at=now,
    )  # fmt: skip
    html = manager.get(reverse("admin:streaming_stream_change", args=[stream.pk])).content
    text = html.decode()
    assert "Running: 720p, 480p, 360p; speed 0.81x." in text
    assert f"CANNOT KEEP REAL TIME since {now:%H:%M:%S} UTC" in text
    assert "Restarted 2 time(s)." in text


def test_staff_see_how_to_point_obs_at_the_stream_without_its_key(manager, stream):
    text = manager.get(reverse("admin:streaming_stream_change", args=[stream.pk])).content.decode()
    assert f"Stream Key {stream.public_id}?key=&lt;stream key&gt;" in text
    assert "No RTMP publish yet." in text


def test_staff_choose_the_ladder_and_signed_playback(manager, stream):
    response = manager.post(
        reverse("admin:streaming_stream_change", args=[stream.pk]),
        {"relay_url": "", "ladder": "adaptive", "signed_playback": "on", "captions": "off"},
    )
    assert response.status_code == 302
    stream.refresh_from_db()
    assert (stream.ladder, stream.signed_playback) == ("adaptive", True)


def test_an_unknown_ladder_is_refused_and_changes_nothing(manager, stream):
    response = manager.post(
        reverse("admin:streaming_stream_change", args=[stream.pk]),
        {"relay_url": "", "ladder": "4k", "signed_playback": "on"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Stream.objects.filter(pk=stream.pk, ladder="passthrough",
                                 signed_playback=False).exists()  # fmt: skip
