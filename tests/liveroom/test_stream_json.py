"""stream.json: the player's URLs now, and the page's player configuration."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from events.models import EventStatus
from streaming import services
from streaming.models import Stream
from tests.factories import EventFactory
from tests.support import player_config

pytestmark = pytest.mark.django_db


def stream_json(client, event):
    return client.get(f"/events/{event.slug}/stream.json")


def live_stream(event, **fields) -> Stream:
    stream, _ = services.create_stream(event_id=event.pk)
    now = timezone.now()
    Stream.objects.filter(pk=stream.pk).update(
        state="live", live_at=now, last_segment_at=now, **fields
    )
    return Stream.objects.get(pk=stream.pk)


def test_an_event_without_a_stream_has_no_urls_and_may_be_cached_for_a_second(client):
    event = EventFactory(status=EventStatus.LIVE)
    response = stream_json(client, event)
    assert response.status_code == 200
    assert response.json() == {
        "status": "live", "state": "none", "master_url": None, "replay_url": None,
        "target_duration": None, "latency": "standard",
    }  # fmt: skip
    assert response["Cache-Control"] == "public, max-age=1, stale-while-revalidate=2"


def test_a_live_stream_gives_its_master_playlist(client):
    event = EventFactory(status=EventStatus.LIVE)
    stream = live_stream(event)
    data = stream_json(client, event).json()
    assert (data["state"], data["master_url"], data["replay_url"]) == (
        "live", f"/live/{stream.public_id}/master.m3u8", None
    )  # fmt: skip
    assert data["target_duration"] == stream.target_duration


def test_a_low_latency_stream_tells_the_player_to_play_ll_hls(client):
    # static/js/player.js turns on hls.js's lowLatencyMode for it.
    event = EventFactory(status=EventStatus.LIVE)
    live_stream(event, latency="low")
    assert player_config(client.get(event.get_absolute_url()).content.decode())["latency"] == "low"


def test_a_signed_live_stream_is_refused_to_a_browser_the_live_room_has_not_admitted(client):
    # Admitted browsers get the signed URL: tests/liveroom/hub/test_stream_gate.py.
    event = EventFactory(status=EventStatus.LIVE)
    live_stream(event, signed_playback=True)
    response = stream_json(client, event)
    assert response.status_code == 403
    data = response.json()
    assert (data["master_url"], data["replay_url"]) == (None, None)
    assert data["error"] == (
        "This browser has no place in the live room yet: the event may be full."
    )
    assert response["Cache-Control"] == "private, no-store"


def test_a_signed_live_stream_url_is_never_in_the_page(client):
    event = EventFactory(status=EventStatus.LIVE)
    stream = live_stream(event, signed_playback=True)
    html = client.get(event.get_absolute_url()).content.decode()
    assert player_config(html)["master_url"] is None
    assert f"/live/{stream.public_id}/" not in html


def test_an_ended_signed_streams_replay_needs_no_seat_and_stays_out_of_shared_caches(client):
    event = EventFactory(status=EventStatus.ENDED)
    stream = live_stream(event, signed_playback=True)
    Stream.objects.filter(pk=stream.pk).update(state="ended")
    response = stream_json(client, event)
    assert response.status_code == 200
    assert re.fullmatch(
        rf"/[^/]+/[A-Za-z0-9_-]+/\d+/live/{stream.public_id}/replay\.m3u8",
        response.json()["replay_url"],
    )
    assert response["Cache-Control"] == "private, max-age=1"


def test_an_event_that_asks_for_registration_gives_urls_to_registered_attendees_only(client):
    event = EventFactory(status=EventStatus.LIVE, registration_required=True)
    stream = live_stream(event)
    refused = stream_json(client, event)
    assert refused.status_code == 403
    assert refused.json()["master_url"] is None
    assert refused.json()["error"] == "Register for this event to watch it."
    html = client.get(event.get_absolute_url()).content.decode()
    assert player_config(html)["master_url"] is None
    client.post(
        f"/events/{event.slug}/register", {"name": "Ada Lovelace", "email": "ada@example.com"}
    )
    admitted = stream_json(client, event)
    assert admitted.status_code == 200
    assert admitted.json()["master_url"] == f"/live/{stream.public_id}/master.m3u8"
    assert admitted["Cache-Control"] == "private, max-age=1"


def test_an_ended_recorded_stream_gives_its_replay(client):
    event = EventFactory(status=EventStatus.ENDED)
    stream = live_stream(event)
    Stream.objects.filter(pk=stream.pk).update(state="ended")
    data = stream_json(client, event).json()
    assert (data["status"], data["state"], data["master_url"], data["replay_url"]) == (
        "ended", "ended", None, f"/live/{stream.public_id}/replay.m3u8"
    )  # fmt: skip


def test_a_draft_or_unknown_event_has_no_stream_json(client):
    draft = EventFactory(status=EventStatus.DRAFT)
    assert stream_json(client, draft).status_code == 404
    assert client.get("/events/no-such-event/stream.json").status_code == 404


def test_stream_json_refuses_writes(client):
    event = EventFactory(status=EventStatus.LIVE)
    assert client.post(f"/events/{event.slug}/stream.json").status_code == 405


def test_the_page_starts_the_player_from_the_streams_state(client):
    event = EventFactory(status=EventStatus.LIVE)
    stream = live_stream(event)
    html = client.get(event.get_absolute_url()).content.decode()
    assert player_config(html) == {
        "status": "live", "state": "live",
        "master_url": f"/live/{stream.public_id}/master.m3u8", "replay_url": None,
        "target_duration": stream.target_duration, "latency": "standard",
        "stream_url": f"/events/{event.slug}/stream.json",
    }  # fmt: skip
    assert 'data-may-watch="true"' in html
    # hls.js is our own static file: no third-party script but Stripe's.
    assert '<script src="/static/vendor/hls.js/hls.light.min.js" defer></script>' in html
    assert re.findall(r'<script src="(https?:)?//', html) == []


def test_an_event_that_asks_for_registration_shows_its_video_to_registered_attendees_only(
    client,
):
    event = EventFactory(status=EventStatus.LIVE, registration_required=True)
    live_stream(event)
    html = client.get(event.get_absolute_url()).content.decode()
    assert 'data-may-watch="false"' in html
    assert 'data-cover="register"' in html
    # Registered (the view sets this event's cookie), the same visitor may watch.
    response = client.post(
        f"/events/{event.slug}/register", {"name": "Ada Lovelace", "email": "ada@example.com"}
    )
    assert response.status_code == 303
    html = client.get(event.get_absolute_url()).content.decode()
    assert 'data-may-watch="true"' in html
