"""The live room's selector: the snapshot every viewer of an event sees.

A snapshot is state, not an event: `{version, raised, donors, donations, goal, viewers,
recent}` (plus `currency` and `status`), a few hundred bytes of JSON, built from the database
once per change for the whole deployment (by the event's elected publisher), encoded once,
and sent as is to every socket. Clients keep the highest `version`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from events.models import Event

RECENT_DONORS = 5


@dataclass(frozen=True, slots=True)
class EventInfo:
    """What a web process keeps in memory per event to admit sockets without the database."""

    event_id: int
    slug: str
    status: str
    capacity: int


def event_info(*, slug: str) -> EventInfo | None:
    """The event behind a live-room URL, or None for an unknown slug or a draft."""
    row = (
        Event.objects.filter(slug=slug)
        .exclude(status="draft")
        .values_list("pk", "status", "capacity_tier__max_attendees")
        .first()
    )
    if row is None:
        return None
    return EventInfo(event_id=row[0], slug=slug, status=row[1], capacity=row[2])


def _tally(event_id: int) -> Any:
    try:
        from donations.selectors import event_tally
    except ImportError:  # the donations app's selector is not there: an empty tally
        return None
    return event_tally(event_id=event_id)


def build_snapshot(*, event_id: int, version: int, viewers: int) -> dict[str, Any]:
    """Reads the event and its tally (two or three queries). Donor names and messages go out
    as the donors allowed them, as JSON strings: clients must show them as text."""
    event = Event.objects.select_related("campaign").get(pk=event_id)
    tally = _tally(event_id)
    recent: list[dict[str, Any]] = []
    if tally is not None:
        for donor in list(tally.recent)[:RECENT_DONORS]:
            recent.append(
                {
                    "name": donor.display_name,
                    "amount": donor.amount_minor,
                    "message": donor.message or "",
                }
            )
    return {
        "version": version,
        "status": event.status,
        "currency": event.campaign.currency,
        "goal": event.goal_minor,
        "raised": tally.raised_minor if tally is not None else 0,
        "donors": tally.donors if tally is not None else 0,
        "donations": tally.donations if tally is not None else 0,
        "viewers": viewers,
        "recent": recent,
    }


def encode(snapshot: dict[str, Any]) -> str:
    """Compact JSON. `<`, `>` and `&` are escaped too, so the text stays inert even if someone
    ever inlines it into HTML."""
    text = json.dumps(snapshot, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
