"""The replay's moments: the EXT-X-DATERANGE entries the origin adds to a replay's media
playlists (streaming/dateranges.py), from the ledger and the asks, which only this app may
read together. Registered in `liveroom/apps.py`; the page reads them back
(static/js/replaytally.js) to show the tally as it read at the playhead.

- CLASS "com.pledgecast.tally": ID "tally-open" at the replay's first date with the tally
  then, and one "tally-<epoch seconds>" per bucket of BUCKET_SECONDS (aligned on the epoch, so
  an ID names the same bucket in every fetch) in which gifts succeeded, with DURATION.
  X-RAISED-MINOR and X-GIFTS: given in the bucket; X-TOTAL-MINOR, X-TOTAL-GIFTS and X-DONORS:
  the tally at the bucket's end. Counted as the tally counts (net of refunds and disputes).
  X-TICKER (where there are lines): the bucket's newest ticker lines, newest first (the open
  entry's: the ticker at the start), as UTF-8 JSON `[{name, amount, message}]` (amount in minor
  units or null, as the live ticker's) in a hexadecimal-sequence: donors' words keep their
  quotes.
- CLASS "com.pledgecast.ask": ID "ask-<id>" from when it was pinned to when it was taken down
  (END-DATE; none while pinned), X-LABEL its text, X-AMOUNT-MINOR, X-TAG.
- CLASS "com.pledgecast.milestone": see `milestone_entries`.

Dates are the wall clock's, the same clock as the segments' EXT-X-PROGRAM-DATE-TIME (the
encoder's capture time, or ours): the replay shows each gift at the picture the stage was
sending when the tally moved, to within a bucket.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from donations.moments import TickerLine, event_gift_moments
from donations.selectors import milestone_crossings
from engagement.selectors import asks_on_screen
from streaming.dateranges import DateRange

BUCKET_SECONDS = 5
TALLY_CLASS = "com.pledgecast.tally"
ASK_CLASS = "com.pledgecast.ask"
MILESTONE_CLASS = "com.pledgecast.milestone"


def _ticker(lines: Sequence[TickerLine]) -> dict[str, bytes]:
    if not lines:
        return {}
    shown = [{"name": x.name, "amount": x.amount_minor, "message": x.message} for x in lines]
    return {"X-TICKER": json.dumps(shown, ensure_ascii=False, separators=(",", ":")).encode()}


def tally_entries(event_id: int, start: datetime, end: datetime) -> list[DateRange]:
    found = event_gift_moments(
        event_id=event_id, start=start, end=end, bucket_seconds=BUCKET_SECONDS
    )
    entries = [
        DateRange(
            id="tally-open",
            class_name=TALLY_CLASS,
            start=start,
            client={
                "X-RAISED-MINOR": 0,
                "X-GIFTS": 0,
                "X-TOTAL-MINOR": found.before_minor,
                "X-TOTAL-GIFTS": found.before_gifts,
                "X-DONORS": found.before_donors,
                **_ticker(found.before_ticker),
            },
        )
    ]
    for moment in found.moments:
        entries.append(
            DateRange(
                id=f"tally-{int(moment.start.timestamp())}",
                class_name=TALLY_CLASS,
                start=moment.start,
                duration=float(BUCKET_SECONDS),
                client={
                    "X-RAISED-MINOR": moment.raised_minor,
                    "X-GIFTS": moment.gifts,
                    "X-TOTAL-MINOR": moment.total_minor,
                    "X-TOTAL-GIFTS": moment.total_gifts,
                    "X-DONORS": moment.donors,
                    **_ticker(moment.ticker),
                },
            )
        )
    return entries


def ask_entries(event_id: int, start: datetime, end: datetime) -> list[DateRange]:
    return [
        DateRange(
            id=f"ask-{ask.ask_id}",
            class_name=ASK_CLASS,
            start=ask.pinned_at,
            end=ask.unpinned_at,
            client={"X-LABEL": ask.text, "X-AMOUNT-MINOR": ask.amount_minor, "X-TAG": ask.tag},
        )
        for ask in asks_on_screen(event_id=event_id, start=start, end=end)
    ]


def milestone_entry(*, index: int, at: datetime, label: str) -> DateRange:
    """A milestone the tally crossed, as an instant (DURATION=0), X-LABEL its words."""
    return DateRange(
        id=f"milestone-{index}", class_name=MILESTONE_CLASS, start=at, duration=0.0,
        client={"X-LABEL": label},
    )  # fmt: skip


def milestone_entries(event_id: int, start: datetime, end: datetime) -> list[DateRange]:
    """The goal's milestones crossed between `start` and `end` (donations/milestones.py), each
    named by its milestone (a stable ID)."""
    return [
        milestone_entry(index=crossing.milestone_id, at=crossing.at, label=crossing.label)
        for crossing in milestone_crossings(event_id=event_id)
        if start <= crossing.at < end
    ]
