"""EXT-X-DATERANGE entries (streaming/dateranges.py): how one is written (RFC 8216bis
§4.4.5.1: quoted strings, client attributes, dates on the segments' clock), where each goes
in a media playlist, and the sources' entries put together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from streaming import dateranges, playlists
from streaming.dateranges import DateRange

T0 = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)


def media(count: int = 4, *, duration: float = 2.0) -> str:
    segments = [
        playlists.PublishedSegment(
            seq=i,
            duration=duration,
            program_date_time=T0 + timedelta(seconds=i * duration),
            discontinuity=False,
            init_name="",
            extension="ts",
        )
        for i in range(count)
    ]
    return playlists.render_media(
        target_duration=2, media_sequence=0, discontinuity_sequence=0, segments=segments,
        ended=True, vod=True,
    )  # fmt: skip


def test_an_entry_is_written_with_quoted_strings_dates_and_client_numbers():
    entry = DateRange(
        id="tally-1793732400", class_name="com.pledgecast.tally", start=T0, duration=5.0,
        client={"X-RAISED-MINOR": 2_500, "X-GIFTS": 2, "X-LABEL": "Give $27"},
    )  # fmt: skip
    assert dateranges.render(entry) == (
        '#EXT-X-DATERANGE:ID="tally-1793732400",CLASS="com.pledgecast.tally",'
        'START-DATE="2026-11-03T19:00:00.000Z",DURATION=5.000,'
        'X-RAISED-MINOR=2500,X-GIFTS=2,X-LABEL="Give $27"'
    )


def test_bytes_are_written_as_a_hexadecimal_sequence():
    entry = DateRange(id="a", class_name="c", start=T0, client={"X-TICKER": '[{"n":"é"}]'.encode()})
    assert dateranges.render(entry).endswith(",X-TICKER=0x5B7B226E223A22C3A9227D5D")


def test_text_that_a_quoted_string_cannot_hold_is_made_safe():
    entry = DateRange(
        id="ask-7", class_name="com.pledgecast.ask", start=T0 + timedelta(hours=5),
        end=T0 + timedelta(hours=5, minutes=2),
        client={"X-LABEL": 'Say "yes",\r\nnow\x00 ' + "x" * 300},
    )  # fmt: skip
    line = dateranges.render(entry)
    assert 'START-DATE="2026-11-04T00:00:00.000Z",END-DATE="2026-11-04T00:02:00.000Z"' in line
    label = line.split("X-LABEL=", 1)[1]
    assert label.startswith('"Say \u201dyes\u201d, now xxx')
    assert label.endswith('"')
    assert label.count('"') == 2
    assert len(label) == dateranges.MAX_TEXT_CHARS + 2
    assert not {"\r", "\n", "\x00"} & set(line)


@pytest.mark.parametrize(
    "fields",
    [
        {"id": 'bad"id'},
        {"id": ""},
        {"class_name": "com pledgecast"},
        {"start": datetime(2026, 11, 3, 19, 0)},  # noqa: DTZ001 - naive on purpose
        {"duration": -1.0},
        {"end": T0 - timedelta(seconds=1)},
        {"client": {"RAISED": 1}},  # not a client attribute
        {"client": {"X-raised": 1}},
        {"client": {"X-RAISED-MINOR": -5}},
        {"client": {"X-ON": True}},
        {"client": {"X-BYTES": b""}},
    ],
)
def test_an_entry_the_spec_would_refuse_is_not_made(fields):
    with pytest.raises(ValueError, match=r"DATERANGE|client|hexadecimal"):
        DateRange(**{"id": "a", "class_name": "c", "start": T0, **fields})


def test_each_entry_goes_before_the_segment_its_start_falls_in():
    text = media(4)  # segments at 0, 2, 4 and 6 s
    entries = [
        DateRange(id="late", class_name="c", start=T0 + timedelta(seconds=30)),
        DateRange(id="third", class_name="c", start=T0 + timedelta(seconds=5)),
        DateRange(id="early", class_name="c", start=T0 - timedelta(minutes=1)),
        DateRange(id="first", class_name="c", start=T0),
    ]
    placed = dateranges.place(text, entries)
    lines = placed.splitlines()

    def before(entry_id: str) -> str:  # the date-time of the segment after the entry
        index = next(i for i, line in enumerate(lines) if f'ID="{entry_id}"' in line)
        return next(line for line in lines[index:] if line.startswith("#EXT-X-PROGRAM-DATE"))

    assert before("early") == before("first") == "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T19:00:00.000Z"
    assert before("third") == "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T19:00:04.000Z"
    assert before("late") == "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T19:00:06.000Z"
    # by date within a segment; nothing else changed, and the playlist still reads the same
    firsts = [line for line in lines[:10] if line.startswith("#EXT-X-DATERANGE")]
    assert [line.split('"')[1] for line in firsts] == ["early", "first"]
    assert "\n".join(x for x in lines if not x.startswith("#EXT-X-DATERANGE")) + "\n" == text
    assert playlists.parse_media(placed) == playlists.parse_media(text)


def test_no_entries_leave_the_playlist_as_it_is():
    assert dateranges.place(media(2), []) == media(2)


def test_the_sources_entries_come_together_by_date_an_id_once(monkeypatch):
    monkeypatch.setattr(dateranges, "_sources", [])
    asked = []

    def one(event_id, start, end):
        asked.append((event_id, start, end))
        return [DateRange(id="b", class_name="c", start=T0 + timedelta(seconds=9)),
                DateRange(id="a", class_name="c", start=T0 + timedelta(seconds=9))]  # fmt: skip

    def two(event_id, start, end):
        return [DateRange(id="a", class_name="other", start=T0),
                DateRange(id="z", class_name="c", start=T0)]  # fmt: skip

    dateranges.add_source(one)
    dateranges.add_source(two)
    dateranges.add_source(one)  # once only
    found = dateranges.entries_for(event_id=7, start=T0, end=T0 + timedelta(minutes=1))
    assert [(e.id, e.class_name) for e in found] == [("z", "c"), ("a", "c"), ("b", "c")]
    assert asked == [(7, T0, T0 + timedelta(minutes=1))]


@pytest.mark.django_db
def test_a_failing_source_or_an_unreadable_playlist_leaves_the_replay_as_stored(
    monkeypatch, stream, caplog
):
    def broken(event_id, start, end):
        raise RuntimeError("the ledger is away")

    def one(event_id, start, end):
        return [DateRange(id="x", class_name="c", start=start)]

    stored = media(3).encode()
    cache.clear()
    monkeypatch.setattr(dateranges, "_sources", [one])
    served = dateranges.replay_with_dateranges(public_id=stream.public_id, text=stored)
    assert served.decode().count("#EXT-X-DATERANGE:") == 1
    assert dateranges.replay_with_dateranges(public_id="nobody", text=stored) == stored

    monkeypatch.setattr(dateranges, "_sources", [one, broken])
    cache.clear()  # the entries above are kept for a minute
    assert dateranges.replay_with_dateranges(public_id=stream.public_id, text=stored) == stored
    assert dateranges.replay_with_dateranges(public_id=stream.public_id, text=b"nonsense") == (
        b"nonsense"
    )
    assert [r.getMessage() for r in caplog.records] == ["replay date ranges left out"] * 2
