"""Stream health without a live encoder: the sweep's decisions at given times, relay errors."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from events.models import EventStatus
from events.services import end_event
from streaming import relay, selectors, services
from streaming.models import Segment, StreamMode
from streaming.storage import get_storage
from tests.factories import EventFactory
from tests.support.streaming import LOOPBACK_NETWORKS, deliver

pytestmark = pytest.mark.django_db


def test_a_live_stream_is_not_stalled_within_two_target_durations(live_stream):
    at = live_stream.last_segment_at + timedelta(seconds=2 * live_stream.target_duration)
    assert services.mark_stalled_streams(now=at) == []
    assert selectors.effective_state(live_stream, now=at) == "live"


def test_a_live_stream_is_reconnecting_after_two_target_durations_without_a_segment(
    live_stream,
):
    at = live_stream.last_segment_at + timedelta(
        seconds=2 * live_stream.target_duration, milliseconds=1
    )
    assert selectors.effective_state(live_stream, now=at) == "reconnecting"
    assert services.mark_stalled_streams(now=at) == [live_stream.pk]
    live_stream.refresh_from_db()
    assert (live_stream.state, live_stream.event.status) == ("reconnecting", EventStatus.LIVE)


def test_a_stalled_stream_is_live_again_when_segments_arrive(live_stream):
    at = live_stream.last_segment_at + timedelta(seconds=5)
    services.mark_stalled_streams(now=at)
    deliver(live_stream, 2, 1)
    live_stream.refresh_from_db()
    assert live_stream.state == "live"


def test_the_sweep_ends_the_stream_of_an_event_staff_ended(live_stream):
    end_event(event_id=live_stream.event_id)
    assert services.sweep_streams()["ended"] == 1
    live_stream.refresh_from_db()
    assert live_stream.state == "ended"


def test_the_sweep_deletes_unrecorded_segments_after_duration_plus_window(db):
    event = EventFactory(status=EventStatus.SCHEDULED)
    stream, _ = services.create_stream(event_id=event.pk, record=False)
    deliver(stream, 0, 5)  # 0 and 1 leave the 3 s window
    removed = Segment.objects.get(rendition__stream=stream, seq=0)
    keep_until = removed.removed_at + timedelta(seconds=1 + stream.window_seconds)
    path = f"live/{stream.public_id}/v/0.ts"
    assert services.sweep_streams(now=keep_until)["deleted"] == 0
    assert get_storage().size(path) == 188
    assert services.sweep_streams(now=keep_until + timedelta(milliseconds=1))["deleted"] == 2
    assert get_storage().size(path) is None


def test_recorded_segments_are_kept_for_the_replay(live_stream):
    deliver(live_stream, 2, 6)
    later = live_stream.last_segment_at + timedelta(days=1)
    assert services.sweep_streams(now=later)["deleted"] == 0


def test_an_unreachable_upstream_is_recorded_for_staff(db, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    event = EventFactory(status=EventStatus.SCHEDULED)
    stream, _ = services.create_stream(
        event_id=event.pk, mode=StreamMode.RELAY, relay_url=f"http://127.0.0.1:{port}/up.m3u8"
    )
    assert relay.poll_relay(stream_id=stream.pk) == 0
    stream.refresh_from_db()
    assert stream.last_error.startswith(
        f"Upstream: playlist: http://127.0.0.1:{port}/up.m3u8: cannot connect"
    )
    assert stream.state == "idle"


def test_a_relay_stream_takes_no_pushes(db, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    event = EventFactory(status=EventStatus.SCHEDULED)
    stream, key = services.create_stream(
        event_id=event.pk, mode=StreamMode.RELAY, relay_url="http://127.0.0.1:9/up.m3u8"
    )
    with pytest.raises(selectors.IngestRefused) as refused:
        selectors.access_stream_for_ingest(
            public_id=stream.public_id, authorization=f"Bearer {key}"
        )
    assert refused.value.status == 409
