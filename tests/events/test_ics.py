"""The event as an RFC 5545 calendar file: escaping, folding, line endings, and what a real
parser (icalendar) reads back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from events import ics
from events.models import EventStatus
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

STARTS = datetime(2031, 3, 4, 18, 30, tzinfo=UTC)


def _event(**kwargs):
    defaults = {
        "status": EventStatus.SCHEDULED,
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(hours=1, minutes=30),
    }
    return EventFactory(**{**defaults, **kwargs})


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_text_values_escape_backslash_semicolon_comma_and_line_breaks():
    assert ics.escape_text("a\\b;c,d\ne\r\nf\rg") == "a\\\\b\\;c\\,d\\ne\\nf\\ng"


def test_text_values_lose_control_characters_but_keep_tabs():
    assert ics.escape_text("a\x00b\x1bc\td") == "abc\td"


def test_a_short_line_is_not_folded():
    assert ics.fold("SUMMARY:" + "x" * 67) == "SUMMARY:" + "x" * 67


def test_a_long_line_folds_at_75_octets_with_a_leading_space():
    folded = ics.fold("DESCRIPTION:" + "y" * 200)
    parts = folded.split("\r\n")
    # 212 octets of content: 75, then 74 + 63 after the two leading spaces.
    assert [len(p.encode()) for p in parts] == [75, 75, 64]
    assert all(p.startswith(" ") for p in parts[1:])
    assert folded.replace("\r\n ", "") == "DESCRIPTION:" + "y" * 200


def test_folding_never_splits_a_multibyte_character():
    line = "SUMMARY:" + "é" * 40 + "🎉" * 20  # 2-byte and 4-byte characters
    parts = ics.fold(line).split("\r\n")
    for part in parts:
        assert len(part.encode()) <= 75
        part.encode().decode()  # each physical line is valid UTF-8 on its own
    assert "".join(p.removeprefix(" ") if i else p for i, p in enumerate(parts)) == line


def test_the_calendar_has_crlf_line_endings_and_no_line_over_75_octets():
    event = _event(title="A very long title " * 8, description="Line one\nLine two " * 20)
    text = ics.build_event_ics(event=event)
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert "\r" not in text.replace("\r\n", "")
    assert max(len(line.encode()) for line in text.split("\r\n")) <= 75


def test_the_calendar_has_the_properties_publish_needs():
    event = _event(title="Town hall")
    now = datetime(2031, 3, 1, 12, 0, 5, tzinfo=UTC)
    lines = _unfold(ics.build_event_ics(event=event, now=now))
    assert lines[:5] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Pledgecast//Pledgecast events//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    assert lines[-3:] == ["END:VEVENT", "END:VCALENDAR", ""]
    assert f"UID:event-{event.pk}@127.0.0.1" in lines
    assert "DTSTAMP:20310301T120005Z" in lines
    assert "DTSTART:20310304T183000Z" in lines
    assert "DTEND:20310304T200000Z" in lines
    assert "SUMMARY:Town hall" in lines
    assert f"URL:http://127.0.0.1:8000/events/{event.slug}/" in lines
    assert "STATUS:CONFIRMED" in lines
    organizer = next(line for line in lines if line.startswith("ORGANIZER"))
    assert organizer == f'ORGANIZER;CN="{event.campaign.name}":mailto:receipts@localhost'


def test_the_uid_is_stable_for_the_event_and_differs_between_events():
    one, two = _event(), _event()
    uids = [
        next(line for line in _unfold(ics.build_event_ics(event=e)) if line.startswith("UID:"))
        for e in (one, one, two)
    ]
    assert uids[0] == uids[1]
    assert uids[0] != uids[2]


def test_icalendar_reads_back_the_event_with_special_characters_intact():
    title = 'Rally; "Yes, we can" \\ 🎉 ' + "long " * 20
    description = "Doors open at 6.\nBring a friend, or two; all welcome.\n<b>not html</b>"
    event = _event(title=title, description=description)
    calendar = icalendar.Calendar.from_ical(ics.build_event_ics(event=event))
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["VERSION"] == "2.0"
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == title
    assert str(vevent["DESCRIPTION"]) == (
        f"{description}\n\nWatch: http://127.0.0.1:8000/events/{event.slug}/"
    )
    assert vevent.decoded("DTSTART") == STARTS
    assert vevent.decoded("DTEND") == STARTS + timedelta(hours=1, minutes=30)
    assert str(vevent["UID"]) == f"event-{event.pk}@127.0.0.1"
    assert str(vevent["ORGANIZER"]) == "mailto:receipts@localhost"
    assert vevent["ORGANIZER"].params["CN"] == event.campaign.name


def test_a_cancelled_event_is_published_as_cancelled():
    event = _event(status=EventStatus.CANCELLED)
    assert "STATUS:CANCELLED" in _unfold(ics.build_event_ics(event=event))


def test_an_edit_of_the_event_raises_the_sequence():
    event = _event()
    first = icalendar.Calendar.from_ical(ics.build_event_ics(event=event)).walk("VEVENT")[0]
    event.updated_at = event.created_at + timedelta(minutes=3)
    later = icalendar.Calendar.from_ical(ics.build_event_ics(event=event)).walk("VEVENT")[0]
    assert int(later["SEQUENCE"]) > int(first["SEQUENCE"])


def test_the_calendar_link_serves_the_file_to_anyone(client):
    event = _event(title="Town hall")
    response = client.get(f"/events/{event.slug}/calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8; method=PUBLISH"
    assert response["Content-Disposition"] == f'attachment; filename="{event.slug}.ics"'
    assert response["Cache-Control"] == "public, max-age=300"
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar.walk("VEVENT")[0]["SUMMARY"]) == "Town hall"


def test_a_draft_events_calendar_is_not_found(client):
    event = _event(status=EventStatus.DRAFT)
    assert client.get(f"/events/{event.slug}/calendar.ics").status_code == 404
