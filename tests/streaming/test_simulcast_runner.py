"""The simulcast supervisor's side without ffmpeg: where a destination reads the program,
which destinations a supervisor runs, leases, and what reaches staff of ffmpeg's words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import EventStatus
from streaming.models import (
    Rendition,
    SimulcastDestination,
    SimulcastState,
    Transcoder,
)
from streaming.simulcast import keybox, runner, selectors, services
from tests.factories import EventFactory
from tests.support.streaming import deliver

pytestmark = pytest.mark.django_db


def _destination(event, **fields):
    return SimulcastDestination.objects.create(
        event=event, url="rtmp://8.8.8.8/live2", key_sealed=keybox.seal("k-1"), **fields
    )


def test_ffmpegs_words_reach_staff_without_the_key_or_its_addresses():
    line = (
        "[tcp @ 0x5569545a1c40] Connection to tcp://1.2.3.4:1 failed | "
        "rtmp://1.2.3.4:1/app/se%2Fcret: Connection refused | rtmp://1.2.3.4:1/app/se/cret"
    )
    assert runner.redact(line, "se/cret") == (
        "[tcp] Connection to tcp://1.2.3.4:1 failed | "
        "rtmp://1.2.3.4:1/app/<stream key>: Connection refused | rtmp://1.2.3.4:1/app/<stream key>"
    )


def test_a_pushed_stream_is_read_from_its_top_rendition_at_the_origin(stream, settings):
    settings.SIMULCAST_ORIGIN_URL = "http://origin.internal:8000"
    assert selectors.program_source(event_id=stream.event_id, runner="rtmp") is None
    deliver(stream, 0, 2)
    Rendition.objects.create(stream=stream, name="low", next_seq=3, peak_bits_per_second=10)
    Rendition.objects.filter(stream=stream, name="v").update(variant={"BANDWIDTH": "2000000"})
    source = selectors.program_source(event_id=stream.event_id, runner="rtmp")
    assert source is not None
    assert source.kind == "hls"
    assert source.url.startswith("http://origin.internal:8000/s/")
    assert source.url.endswith(f"/live/{stream.public_id}/v/index.m3u8")
    assert runner.command(source=source, target="rtmp://x/y/k")[-1] == "rtmp://x/y/k"


def test_an_rtmp_stream_is_read_from_the_nginx_rtmp_it_was_published_to(stream, settings):
    settings.RTMP_PLAY_URL = "rtmp://127.0.0.1:1935/live"
    Transcoder.objects.create(stream=stream, publishing=True, rtmp_server="east")
    source = selectors.program_source(event_id=stream.event_id, runner="east")
    assert source == selectors.ProgramSource(
        "rtmp", f"rtmp://127.0.0.1:1935/live/{stream.public_id}"
    )
    assert selectors.program_source(event_id=stream.event_id, runner="west") is None


def test_a_supervisor_runs_enabled_destinations_of_live_shows_it_can_read(stream):
    event = stream.event
    event.status = EventStatus.LIVE
    event.save()
    running = _destination(event)
    _destination(event, enabled=False)
    _destination(event, state=SimulcastState.FAILED)
    _destination(EventFactory(status=EventStatus.SCHEDULED))
    assert set(selectors.wanted(runner="east")) == {running.pk}
    Transcoder.objects.create(stream=stream, publishing=True, rtmp_server="west")
    assert selectors.wanted(runner="east") == {}
    assert set(selectors.wanted(runner="west")) == {running.pk}


def test_one_supervisor_holds_a_destination_until_its_lease_runs_out(live_event):
    destination = _destination(live_event)
    now = timezone.now()
    assert services.claim(destination_id=destination.pk, runner="east", now=now)
    assert not services.claim(destination_id=destination.pk, runner="west", now=now)
    # The holder's reports count; another's are ignored.
    services.record_live(destination_id=destination.pk, runner="west")
    services.record_live(destination_id=destination.pk, runner="east")
    destination.refresh_from_db()
    assert destination.state == SimulcastState.LIVE
    later = now + timedelta(seconds=services.LEASE_SECONDS + 1)
    assert services.claim(destination_id=destination.pk, runner="west", now=later)


def test_a_stopped_copy_frees_its_lease_and_a_failed_one_stays_failed(live_event):
    destination = _destination(live_event)
    services.claim(destination_id=destination.pk, runner="east")
    services.record_failure(destination_id=destination.pk, runner="east", error="refused",
                            tries=3, failed=True)  # fmt: skip
    services.record_stopped(destination_id=destination.pk, runner="east")
    destination.refresh_from_db()
    assert (destination.state, destination.tries, destination.runner, destination.last_error) == (
        SimulcastState.FAILED, 3, "", "refused",
    )  # fmt: skip
