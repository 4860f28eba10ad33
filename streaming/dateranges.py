"""EXT-X-DATERANGE entries in the replay's media playlists (RFC 8216bis §4.4.5.1): the show's
moments (the tally as it read, the asks on screen, milestones), dated on the segments' own
clock (EXT-X-PROGRAM-DATE-TIME), so a player reads what the page showed at any point.

Streaming knows no ledger and no asks: the apps above it register *sources* here
(`add_source`, from `liveroom/apps.py`), each a callable `(event_id, start, end)` answering the
entries of the event between two dates. The origin adds them to a replay media playlist as it
serves it (`replay_with_dateranges`), so late webhooks and refunds are in the next fetch;
what is stored on disk is the plain playlist. Rendering and placing are pure functions.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.cache import cache

from streaming import playlists
from streaming.models import Stream

log = logging.getLogger(__name__)

# Attribute names: [A-Z0-9-] (RFC 8216 §4.2); ours are client attributes, so X- first.
CLIENT_NAME = re.compile(r"^X-[A-Z0-9-]{1,60}$")
ID_TEXT = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
# A quoted-string holds neither a double quote nor CR or LF (RFC 8216 §4.2); other control
# characters make no sense to a player either.
_NOT_QUOTABLE = re.compile(r"[\x00-\x1f\x7f]+")
MAX_TEXT_CHARS = 200


@dataclass(frozen=True)
class DateRange:
    """One EXT-X-DATERANGE. `client` holds its X- attributes in order: an int (or float) is
    written as a decimal-floating-point, a str as a quoted-string, bytes as a
    hexadecimal-sequence (for text a quoted-string cannot hold as it is, such as JSON)."""

    id: str
    class_name: str
    start: datetime  # aware
    duration: float | None = None  # seconds
    end: datetime | None = None
    client: Mapping[str, int | float | str | bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not ID_TEXT.match(self.id) or not ID_TEXT.match(self.class_name):
            raise ValueError(f"bad DATERANGE ID or CLASS: {self.id!r} {self.class_name!r}")
        if self.start.tzinfo is None or (self.end is not None and self.end.tzinfo is None):
            raise ValueError("DATERANGE dates must be aware")
        if self.duration is not None and self.duration < 0:
            raise ValueError("DATERANGE DURATION must not be negative")
        if self.end is not None and self.end < self.start:
            raise ValueError("DATERANGE END-DATE before its START-DATE")
        for name, value in self.client.items():
            if not CLIENT_NAME.match(name):
                raise ValueError(f"bad client attribute name: {name!r}")
            if isinstance(value, bytes) and not value:
                raise ValueError(f"{name}: a hexadecimal-sequence holds at least one byte")
            if isinstance(value, bool) or (isinstance(value, int | float) and value < 0):
                raise ValueError(f"{name}: a client number must be non-negative")


def quoted(text: str) -> str:
    """`text` as a quoted-string: double quotes become ” (U+201D), runs of control characters
    (CR and LF among them) and spaces one space, and at most MAX_TEXT_CHARS characters."""
    cleaned = " ".join(_NOT_QUOTABLE.sub(" ", text.replace('"', "\u201d")).split())
    return f'"{cleaned[:MAX_TEXT_CHARS]}"'


def date_text(value: datetime) -> str:
    """As EXT-X-PROGRAM-DATE-TIME writes it: UTC, milliseconds, `Z`."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def render(entry: DateRange) -> str:
    """The tag's line."""
    parts = [
        f"ID={quoted(entry.id)}",
        f"CLASS={quoted(entry.class_name)}",
        f'START-DATE="{date_text(entry.start)}"',
    ]
    if entry.end is not None:
        parts.append(f'END-DATE="{date_text(entry.end)}"')
    if entry.duration is not None:
        parts.append(f"DURATION={_number(entry.duration)}")
    for name, value in entry.client.items():
        if isinstance(value, str):
            parts.append(f"{name}={quoted(value)}")
        elif isinstance(value, bytes):
            parts.append(f"{name}=0x{value.hex().upper()}")
        else:
            parts.append(f"{name}={_number(value)}")
    return "#EXT-X-DATERANGE:" + ",".join(parts)


def place(text: str, entries: Sequence[DateRange]) -> str:
    """The media playlist `text` with `entries`, each just before the segment its START-DATE
    falls in (the first one for an earlier date, the last for a later one): hls.js anchors a
    date range to the segment beside its tag. `text` must have a date-time on every segment,
    as ours do. Raises PlaylistError on a playlist we cannot read."""
    if not entries:
        return text
    segments = playlists.parse_media(text).segments
    ends = []  # each segment's end, in order
    for segment in segments:
        if segment.program_date_time is None:
            raise playlists.PlaylistError("a segment without EXT-X-PROGRAM-DATE-TIME")
        ends.append(segment.program_date_time + timedelta(seconds=segment.duration))
    if not ends:
        return text
    at: dict[int, list[str]] = {}
    for entry in sorted(entries, key=lambda e: (e.start, e.id)):
        # The first segment ending after its start (dates grow down a playlist we wrote).
        index = min(bisect.bisect_right(ends, entry.start), len(ends) - 1)
        at.setdefault(index, []).append(render(entry))
    out: list[str] = []
    seen = 0
    for line in text.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            out.extend(at.get(seen, ()))
            seen += 1
        out.append(line)
    return "\n".join(out) + "\n"


# --- The sources, registered by the apps above ------------------------------------------------

Source = Callable[[int, datetime, datetime], Iterable[DateRange]]
_sources: list[Source] = []


def add_source(source: Source) -> None:
    """Answer `source`'s entries in every replay (once, however often it is added)."""
    if source not in _sources:
        _sources.append(source)


def entries_for(*, event_id: int, start: datetime, end: datetime) -> list[DateRange]:
    """Every source's entries for the event between `start` and `end`, by date; an ID a
    source repeats keeps its first entry (IDs are unique in a playlist)."""
    found: dict[str, DateRange] = {}
    for source in _sources:
        for entry in source(event_id, start, end):
            found.setdefault(entry.id, entry)
    return sorted(found.values(), key=lambda e: (e.start, e.id))


# How long the entries of one replay are kept in the shared cache: the renditions' playlists
# and the edges' misses within it cost the sources nothing (a late gift or refund shows after
# at most this, plus the playlist's cache lifetime).
ENTRIES_CACHE_SECONDS = 60
# The dates asked of the sources, widened to whole minutes: a replay's renditions (whose first
# and last segments differ by a little) share one cache entry. An entry before the playlist's
# first segment is begun at its start, one after its end never is: the page reads the same.
ENTRIES_QUANTUM_SECONDS = 60


def _cached_entries(*, event_id: int, start: datetime, end: datetime) -> list[DateRange]:
    key = f"pc:dateranges:{event_id}:{start.timestamp():.3f}:{end.timestamp():.3f}"
    entries: list[DateRange] | None = cache.get(key)
    if entries is None:
        entries = entries_for(event_id=event_id, start=start, end=end)
        cache.set(key, entries, ENTRIES_CACHE_SECONDS)
    return entries


def replay_with_dateranges(*, public_id: str, text: bytes) -> bytes:
    """A replay media playlist as the origin serves it: with the event's entries between its
    first segment's date and its last one's end (kept ENTRIES_CACHE_SECONDS in the shared
    cache). A playlist we cannot read, or a source that fails, gives the playlist as stored
    (the video plays; the page then shows today's tally) and a log line."""
    event_id = Stream.objects.filter(public_id=public_id).values_list("event_id", flat=True).first()
    if event_id is None or not _sources:
        return text
    try:
        decoded = text.decode()
        segments = playlists.parse_media(decoded).segments
        dates = [(s.program_date_time, s.duration) for s in segments if s.program_date_time]
        if not dates:
            return text
        quantum = ENTRIES_QUANTUM_SECONDS
        first = int(dates[0][0].timestamp()) // quantum * quantum
        last = -(-(dates[-1][0] + timedelta(seconds=dates[-1][1])).timestamp() // quantum)
        start = datetime.fromtimestamp(first, tz=UTC)
        end = datetime.fromtimestamp(int(last) * quantum, tz=UTC)
        entries = _cached_entries(event_id=event_id, start=start, end=end)
        return place(decoded, entries).encode()
    except Exception:
        log.exception("replay date ranges left out", extra={"event_id": event_id})
        return text
