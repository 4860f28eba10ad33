"""The show apart from its stream (streaming/show.py): the green room, "Go live", an encoder
that drops or says ENDLIST without ending the show, the automatic go-live and end, "End show"
and "Resume show", and what each refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event, EventStatus
from liveroom.snapshot import build_snapshot
from streaming import selectors, services, show
from streaming.models import Segment, Stream, StreamState
from tests.factories import EventFactory
from tests.support.streaming import deliver, served

pytestmark = pytest.mark.django_db


def _status(event_id: int) -> str:
    return Event.objects.get(pk=event_id).status


def _state(stream: Stream) -> str:
    stream.refresh_from_db()
    return stream.state


def test_video_arriving_opens_the_green_room_and_the_public_still_counts_down(stream):
    deliver(stream, 0, 2)
    assert _status(stream.event_id) == EventStatus.BACKSTAGE
    assert _state(stream) == StreamState.LIVE
    public = selectors.event_stream_state(event_id=stream.event_id)
    assert (public.state, public.master_url) == ("idle", None)
    snapshot = build_snapshot(event_id=stream.event_id, version=1, viewers=0)
    assert (snapshot["status"], snapshot["stream"]) == ("scheduled", "idle")
    # The origin serves the green room only under a signed prefix (the staff's preview).
    assert selectors.needs_signed_url(public_id=stream.public_id)
    preview = selectors.preview_url(event_id=stream.event_id)
    assert preview is not None
    assert preview.startswith("/s/")


def test_go_live_turns_the_show_live_and_the_public_sees_the_video(stream):
    deliver(stream, 0, 2)
    show.go_live(event_id=stream.event_id)
    event = Event.objects.get(pk=stream.event_id)
    assert event.status == EventStatus.LIVE
    assert event.went_live_at is not None
    public = selectors.event_stream_state(event_id=stream.event_id)
    assert public.state == "live"
    assert public.master_url == f"/live/{stream.public_id}/master.m3u8"
    assert not selectors.needs_signed_url(public_id=stream.public_id)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no stream", "This event has no stream yet"),
        ("no video", "No video is arriving"),
        ("live", "already live"),
        ("draft", "schedule it before going live"),
    ],
)
def test_go_live_refuses_and_changes_nothing(db, setup, message):
    status = {"draft": EventStatus.DRAFT, "live": EventStatus.LIVE}.get(
        setup, EventStatus.SCHEDULED
    )
    event = EventFactory(status=status)
    if setup in ("no video", "live"):
        services.create_stream(event_id=event.pk)
    with pytest.raises(show.ShowRefused, match=message) as refused:
        show.go_live(event_id=event.pk)
    assert refused.value.status == 409
    assert _status(event.pk) == status


def test_an_encoders_endlist_does_not_end_the_show_and_its_return_plays_on(live_stream):
    delivery = deliver(live_stream, 2, 2, end=True)
    assert not delivery.ended
    assert _state(live_stream) == StreamState.RECONNECTING
    assert _status(live_stream.event_id) == EventStatus.LIVE
    assert "#EXT-X-ENDLIST" not in served(live_stream)
    assert selectors.event_stream_state(event_id=live_stream.event_id).master_url
    # The encoder starts again (its numbering from 0): accepted, after a discontinuity.
    deliver(live_stream, 0, 2, prefix="new")
    assert _state(live_stream) == StreamState.LIVE
    text = served(live_stream)
    assert "#EXT-X-DISCONTINUITY" in text
    assert "#EXT-X-ENDLIST" not in text
    assert _status(live_stream.event_id) == EventStatus.LIVE


def test_a_silent_encoder_is_reconnecting_then_stalled_and_the_show_goes_on(live_stream, settings):
    settings.STREAM_RECONNECT_SECONDS = 60
    last = live_stream.last_segment_at
    td = live_stream.target_duration
    assert services.mark_stalled_streams(now=last + timedelta(seconds=2 * td)) == []
    soon = last + timedelta(seconds=2 * td, milliseconds=1)
    assert selectors.effective_state(live_stream, now=soon) == StreamState.RECONNECTING
    assert services.mark_stalled_streams(now=soon) == [live_stream.pk]
    assert _state(live_stream) == StreamState.RECONNECTING
    assert services.mark_stalled_streams(now=last + timedelta(seconds=60)) == []
    assert services.mark_stalled_streams(now=last + timedelta(seconds=61)) == [live_stream.pk]
    assert _state(live_stream) == StreamState.STALLED
    assert _status(live_stream.event_id) == EventStatus.LIVE
    deliver(live_stream, 2, 1)
    assert _state(live_stream) == StreamState.LIVE


def test_the_show_ends_by_itself_only_after_its_stream_is_gone_for_its_time(live_stream):
    Event.objects.filter(pk=live_stream.event_id).update(auto_end_minutes=10)
    # Gone since its last segment, or since it went live if that came later.
    last = max(live_stream.last_segment_at, Event.objects.get(pk=live_stream.event_id).went_live_at)
    assert show.sweep(now=last + timedelta(minutes=9, seconds=59))["auto_ended"] == 0
    assert _status(live_stream.event_id) == EventStatus.LIVE
    assert show.sweep(now=last + timedelta(minutes=10, seconds=1))["auto_ended"] == 1
    assert _status(live_stream.event_id) == EventStatus.ENDED
    assert _state(live_stream) == StreamState.ENDED
    assert "#EXT-X-ENDLIST" in served(live_stream)


def test_a_show_set_to_zero_minutes_never_ends_by_itself(live_stream):
    Event.objects.filter(pk=live_stream.event_id).update(auto_end_minutes=0)
    assert show.sweep(now=timezone.now() + timedelta(days=1))["auto_ended"] == 0
    assert _status(live_stream.event_id) == EventStatus.LIVE


def test_the_show_goes_live_at_its_start_time_when_it_says_so_and_video_arrives(stream):
    event = stream.event
    starts = timezone.now() + timedelta(minutes=1)
    Event.objects.filter(pk=event.pk).update(go_live_automatically=True, starts_at=starts)
    deliver(stream, 0, 2)
    assert show.sweep()["went_live"] == 0  # before its start time
    assert _status(event.pk) == EventStatus.BACKSTAGE
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() - timedelta(seconds=1))
    assert show.sweep()["went_live"] == 1
    assert _status(event.pk) == EventStatus.LIVE


def test_a_show_set_to_go_live_by_itself_waits_for_video(scheduled_event):
    Event.objects.filter(pk=scheduled_event.pk).update(
        go_live_automatically=True, starts_at=timezone.now() - timedelta(seconds=1)
    )
    services.create_stream(event_id=scheduled_event.pk)
    assert show.sweep()["went_live"] == 0
    assert _status(scheduled_event.pk) == EventStatus.SCHEDULED


def test_a_show_not_set_to_go_live_by_itself_waits_for_staff(stream):
    deliver(stream, 0, 2)
    assert show.sweep(now=stream.event.starts_at + timedelta(minutes=5))["went_live"] == 0
    assert _status(stream.event_id) == EventStatus.BACKSTAGE


def test_end_show_ends_the_stream_and_the_replay_leaves_the_practice_out(stream):
    deliver(stream, 0, 3)  # the practice, backstage
    Segment.objects.filter(rendition__stream=stream).update(
        published_at=timezone.now() - timedelta(minutes=5)
    )
    show.go_live(event_id=stream.event_id)
    deliver(stream, 3, 2)
    show.end_show(event_id=stream.event_id)
    assert _status(stream.event_id) == EventStatus.ENDED
    assert _state(stream) == StreamState.ENDED
    replay = served(stream, "v/replay.m3u8")
    assert "3.ts" in replay
    assert "4.ts" in replay
    assert "0.ts" not in replay
    assert "2.ts" not in replay
    assert selectors.event_stream_state(event_id=stream.event_id).replay_url


def test_staff_may_keep_the_practice_in_the_replay(stream):
    Stream.objects.filter(pk=stream.pk).update(record_practice=True)
    deliver(stream, 0, 2)
    show.go_live(event_id=stream.event_id)
    deliver(stream, 2, 1)
    show.end_show(event_id=stream.event_id)
    replay = served(stream, "v/replay.m3u8")
    assert all(f"{n}.ts" in replay for n in range(3))


def test_end_show_refuses_a_show_that_is_not_live(stream):
    deliver(stream, 0, 2)
    with pytest.raises(show.ShowRefused, match="not live"):
        show.end_show(event_id=stream.event_id)
    assert _status(stream.event_id) == EventStatus.BACKSTAGE


def test_an_ended_shows_stream_takes_no_video_and_says_how_to_resume(live_stream):
    show.end_show(event_id=live_stream.event_id)
    with pytest.raises(selectors.IngestRefused) as refused:
        selectors.access_stream_for_ingest(
            public_id=live_stream.public_id, authorization="Bearer whatever"
        )
    assert refused.value.status == 403  # a wrong key is still a wrong key
    new_key = services.rotate_stream_key(stream_id=live_stream.pk)
    with pytest.raises(selectors.IngestRefused, match="resume the show") as refused:
        selectors.access_stream_for_ingest(
            public_id=live_stream.public_id, authorization=f"Bearer {new_key}"
        )
    assert refused.value.status == 409


def test_resume_show_within_its_limit_takes_video_again(live_stream, settings):
    settings.SHOW_RESUME_MINUTES = 30
    show.end_show(event_id=live_stream.event_id)
    assert "#EXT-X-ENDLIST" in served(live_stream)
    show.resume_show(event_id=live_stream.event_id)
    event = Event.objects.get(pk=live_stream.event_id)
    assert event.status == EventStatus.LIVE
    assert event.ended_at is None
    assert _state(live_stream) == StreamState.RECONNECTING
    assert "#EXT-X-ENDLIST" not in served(live_stream)
    key = services.rotate_stream_key(stream_id=live_stream.pk)
    selectors.access_stream_for_ingest(
        public_id=live_stream.public_id, authorization=f"Bearer {key}"
    )
    deliver(live_stream, 0, 1, prefix="again")  # a new encoder session: its numbering restarts
    assert _state(live_stream) == StreamState.LIVE
    assert "#EXT-X-DISCONTINUITY" in served(live_stream)


def test_resume_show_after_its_limit_is_refused_and_changes_nothing(live_stream, settings):
    settings.SHOW_RESUME_MINUTES = 30
    show.end_show(event_id=live_stream.event_id)
    ended_at = Event.objects.get(pk=live_stream.event_id).ended_at
    with pytest.raises(show.ShowRefused, match="within 30 minutes of its end"):
        show.resume_show(event_id=live_stream.event_id, now=ended_at + timedelta(minutes=31))
    assert _status(live_stream.event_id) == EventStatus.ENDED
    assert _state(live_stream) == StreamState.ENDED


def test_resume_show_refuses_a_show_that_has_not_ended(live_stream):
    with pytest.raises(show.ShowRefused, match="Only an ended show"):
        show.resume_show(event_id=live_stream.event_id)
    assert _status(live_stream.event_id) == EventStatus.LIVE


def test_another_events_stream_key_is_refused_and_changes_nothing(stream):
    other = EventFactory(status=EventStatus.SCHEDULED)
    _, other_key = services.create_stream(event_id=other.pk)
    with pytest.raises(selectors.IngestRefused, match="Wrong or rotated stream key") as refused:
        selectors.access_stream_for_ingest(
            public_id=stream.public_id, authorization=f"Bearer {other_key}"
        )
    assert refused.value.status == 403
    assert _state(stream) == StreamState.IDLE
    assert _status(stream.event_id) == EventStatus.SCHEDULED
