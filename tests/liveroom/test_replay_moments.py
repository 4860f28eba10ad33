"""The replay's moments (liveroom/moments.py, donations/moments.py, the origin): the tally as
it read per bucket of 5 s, counted as the tally counts (refunds and disputes out), stable IDs,
the asks on screen, and the replay's media playlists served with them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from donations.milestones import record_crossings, save_milestone
from donations.models import Milestone
from donations.moments import GiftMoment, GiftMoments, event_gift_moments
from engagement.models import Ask
from events.models import EventStatus
from liveroom import moments
from streaming import dateranges, playlists, services, show
from streaming.models import Segment
from tests.factories import EventFactory
from tests.liveroom.test_dashboard import give, refund
from tests.streaming.hls_checks import hls_parser_strict_failures, m3u8_failures
from tests.support.streaming import deliver, served

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 3, 19, 0, 2, tzinfo=UTC)  # the replay's first date (not on a bucket)
END = T0 + timedelta(minutes=10)


def test_gifts_are_summed_per_bucket_with_the_running_tally(event):
    give(event, amount=1_000, email="ann@example.com", at=T0 - timedelta(minutes=5))
    give(event, amount=2_000, email="bo@example.com", at=T0 + timedelta(seconds=1))
    give(event, amount=3_000, email="ann@example.com", at=T0 + timedelta(seconds=2, microseconds=9))
    give(event, amount=4_000, email="cy@example.com", at=T0 + timedelta(seconds=3))
    give(event, amount=500, email="dee@example.com", at=T0 + timedelta(minutes=2))
    give(event, amount=9_000, email="late@example.com", at=END)  # after the replay
    give(EventFactory(campaign=event.campaign, status=EventStatus.LIVE), amount=7_000, at=T0)

    found = event_gift_moments(event_id=event.pk, start=T0, end=END, bucket_seconds=5)

    bucket = datetime(2026, 11, 3, 19, 0, 0, tzinfo=UTC)  # T0 falls in [19:00:00, 19:00:05)
    assert found == GiftMoments(
        bucket_seconds=5, before_minor=1_000, before_gifts=1, before_donors=1,
        moments=[
            GiftMoment(start=bucket, raised_minor=5_000, gifts=2, total_minor=6_000,
                       total_gifts=3, donors=2),
            GiftMoment(start=bucket + timedelta(seconds=5), raised_minor=4_000, gifts=1,
                       total_minor=10_000, total_gifts=4, donors=3),
            GiftMoment(start=bucket + timedelta(minutes=2), raised_minor=500, gifts=1,
                       total_minor=10_500, total_gifts=5, donors=4),
        ],
    )  # fmt: skip


def test_refunds_and_disputes_count_as_the_tally_counts_them(event):
    whole = give(event, amount=4_000, at=T0 + timedelta(seconds=10))
    part = give(event, amount=5_000, at=T0 + timedelta(seconds=11))
    give(event, amount=1_000, at=T0 + timedelta(seconds=20))
    refund(whole, 4_000)
    refund(part, 1_500)

    entries = moments.tally_entries(event.pk, T0, END)

    assert [(e.id, dict(e.client)) for e in entries] == [
        ("tally-open", {"X-RAISED-MINOR": 0, "X-GIFTS": 0, "X-TOTAL-MINOR": 0,
                        "X-TOTAL-GIFTS": 0, "X-DONORS": 0}),
        ("tally-1793732410", {"X-RAISED-MINOR": 3_500, "X-GIFTS": 1, "X-TOTAL-MINOR": 3_500,
                              "X-TOTAL-GIFTS": 1, "X-DONORS": 1}),
        ("tally-1793732420", {"X-RAISED-MINOR": 1_000, "X-GIFTS": 1, "X-TOTAL-MINOR": 4_500,
                              "X-TOTAL-GIFTS": 2, "X-DONORS": 2}),
    ]  # fmt: skip
    assert entries[1].start == datetime(2026, 11, 3, 19, 0, 10, tzinfo=UTC)
    assert entries[1].duration == 5.0
    assert {e.class_name for e in entries} == {"com.pledgecast.tally"}


def test_each_bucket_carries_its_newest_ticker_lines_as_the_live_ticker_reads_them(event):
    def line(name, amount, **fields):
        return give(event, amount=amount, ticker_opt_in=True, display_name=name, **fields)

    for i in range(6):  # before the replay: its start shows the newest five
        line(f"Early {i}", 100 + i, at=T0 - timedelta(minutes=6 - i))
    line('Zoë "Z"', 2_000, message="Go\nteam ✊", at=T0 + timedelta(seconds=3))
    line("Quiet", 3_000, hide_amount=True, at=T0 + timedelta(seconds=4))
    line("Hidden", 4_000, ticker_hidden=True, at=T0 + timedelta(seconds=4))
    give(event, amount=5_000, at=T0 + timedelta(seconds=4))  # not in the ticker
    for i in range(7):
        line(f"Burst {i}", 100, at=T0 + timedelta(seconds=10, milliseconds=100 * i))

    entries = moments.tally_entries(event.pk, T0, END)

    def lines(entry):
        return json.loads(entry.client["X-TICKER"])

    assert [x["name"] for x in lines(entries[0])] == [f"Early {i}" for i in (5, 4, 3, 2, 1)]
    assert lines(entries[1]) == [
        {"name": "Quiet", "amount": None, "message": ""},
        {"name": 'Zoë "Z"', "amount": 2_000, "message": "Go\nteam ✊"},
    ]
    assert [x["name"] for x in lines(entries[2])] == [f"Burst {i}" for i in (6, 5, 4, 3, 2)]
    rendered = dateranges.render(entries[1])
    hex_text = json.dumps(lines(entries[1]), ensure_ascii=False, separators=(",", ":"))
    assert rendered.endswith(",X-TICKER=0x" + hex_text.encode().hex().upper())
    # hidden from the ticker, and out of it, they count in the tally
    assert entries[1].client["X-TOTAL-MINOR"] == 615 + 2_000 + 3_000 + 4_000 + 5_000


def test_a_bucket_keeps_its_id_and_date_whatever_the_replay_starts_at(event):
    give(event, amount=2_000, at=T0 + timedelta(seconds=30))
    one = moments.tally_entries(event.pk, T0, END)
    two = moments.tally_entries(event.pk, T0 + timedelta(seconds=7), END)
    assert (
        [(e.id, e.start) for e in one[1:]]
        == [(e.id, e.start) for e in two[1:]]
        == [("tally-1793732430", datetime(2026, 11, 3, 19, 0, 30, tzinfo=UTC))]
    )


def test_the_asks_on_screen_are_entries_with_their_label(event):
    shown = Ask.objects.create(
        event=event, text='Give $27 "now"', amount_minor=2_700, tag="now", pinned=False,
        pinned_at=T0 + timedelta(minutes=1), unpinned_at=T0 + timedelta(minutes=3),
    )  # fmt: skip
    pinned = Ask.objects.create(
        event=event, text="Help us reach $100k", amount_minor=5_000, tag="100k", pinned=True,
        pinned_at=T0 + timedelta(minutes=4),
    )  # fmt: skip
    Ask.objects.create(  # taken down before the replay begins
        event=event,
        text="Early",
        amount_minor=100,
        tag="early",
        pinned=False,
        pinned_at=T0 - timedelta(minutes=9),
        unpinned_at=T0 - timedelta(minutes=8),
    )
    Ask.objects.create(event=event, text="Never pinned", amount_minor=100, tag="never")

    entries = moments.ask_entries(event.pk, T0, END)

    assert [(e.id, e.class_name, e.start, e.end, dict(e.client)) for e in entries] == [
        (f"ask-{shown.pk}", "com.pledgecast.ask", shown.pinned_at, shown.unpinned_at,
         {"X-LABEL": 'Give $27 "now"', "X-AMOUNT-MINOR": 2_700, "X-TAG": "now"}),
        (f"ask-{pinned.pk}", "com.pledgecast.ask", pinned.pinned_at, None,
         {"X-LABEL": "Help us reach $100k", "X-AMOUNT-MINOR": 5_000, "X-TAG": "100k"}),
    ]  # fmt: skip
    assert 'X-LABEL="Give $27 \u201dnow\u201d"' in dateranges.render(entries[0])


def test_the_milestones_crossed_during_the_replay_are_instants_with_their_label(event):
    inside = save_milestone(event_id=event.pk, amount_minor=1_000, percent=None)
    outside = save_milestone(event_id=event.pk, amount_minor=2_000, percent=None)
    save_milestone(event_id=event.pk, amount_minor=900_000, percent=None)  # never reached
    give(event, amount=5_000, at=T0)
    assert sorted(record_crossings(event_id=event.pk)) == sorted([inside.pk, outside.pk])
    Milestone.objects.filter(pk=inside.pk).update(crossed_at=T0 + timedelta(minutes=2))
    Milestone.objects.filter(pk=outside.pk).update(crossed_at=END + timedelta(minutes=1))

    entries = moments.milestone_entries(event.pk, T0, END)

    assert [(e.id, e.class_name, e.start, e.duration, dict(e.client)) for e in entries] == [
        (f"milestone-{inside.pk}", "com.pledgecast.milestone", T0 + timedelta(minutes=2), 0.0,
         {"X-LABEL": "$10 raised"}),
    ]  # fmt: skip


def test_the_replay_playlist_carries_the_moments_as_served(
    client, stream, django_assert_num_queries
):
    deliver(stream, 0, 3)  # the practice: out of the replay
    show.go_live(event_id=stream.event_id)
    deliver(stream, 3, 3)
    services.end_stream(stream_id=stream.pk)
    dates = list(
        Segment.objects.filter(rendition__stream=stream).order_by("seq")
        .values_list("program_date_time", flat=True)
    )  # fmt: skip
    event = stream.event
    first = dates[3]  # the replay's first segment's date
    give(event, amount=1_000, at=first - timedelta(hours=1))
    give(event, amount=2_500, at=dates[4] + timedelta(milliseconds=500))
    ask = Ask.objects.create(
        event=event, text="Give $25, now", amount_minor=2_500, tag="now", pinned=True,
        pinned_at=dates[4],
    )  # fmt: skip

    cache.clear()
    # the origin's two, the stream's event, the ledger's five, the asks, the milestones
    with django_assert_num_queries(10):
        response = client.get(f"/live/{stream.public_id}/v/replay.m3u8")
    with django_assert_num_queries(3):  # the entries kept for a minute
        again = client.get(f"/live/{stream.public_id}/v/replay.m3u8")
    assert again.content == response.content

    assert response.status_code == 200
    text = response.content.decode()
    lines = [line for line in text.splitlines() if line.startswith("#EXT-X-DATERANGE:")]
    attributes = [playlists.parse_attributes(line.split(":", 1)[1]) for line in lines]
    by_id = {a["ID"].strip('"'): a for a in attributes}
    gift_bucket = int(dates[4].timestamp() + 0.5) // 5 * 5
    assert set(by_id) == {"tally-open", f"tally-{gift_bucket}", f"ask-{ask.pk}"}
    assert by_id["tally-open"]["X-TOTAL-MINOR"] == "1000"
    # asked from the minute the replay began (its renditions share the entries)
    minute = first.replace(second=0, microsecond=0)
    assert by_id["tally-open"]["START-DATE"] == f'"{dateranges.date_text(minute)}"'
    assert by_id[f"tally-{gift_bucket}"]["X-TOTAL-MINOR"] == "3500"
    assert by_id[f"ask-{ask.pk}"]["X-LABEL"] == '"Give $25, now"'
    # RFC 8216 as two strict readers see it; the stored playlist has none of it
    assert hls_parser_strict_failures({"replay": text}) == []
    assert m3u8_failures({"replay": text}) == []
    stored = served(stream, "v/replay.m3u8")
    assert "EXT-X-DATERANGE" not in stored
    assert playlists.parse_media(text) == playlists.parse_media(stored)
    # the master and the live playlist are as written
    for name in ("replay.m3u8", "v/index.m3u8"):
        answer = client.get(f"/live/{stream.public_id}/{name}").content.decode()
        assert answer == served(stream, name)
