"""The live room's selector: the snapshot every viewer of an event sees.

A snapshot is state, not an event: `{version, raised, donors, donations, goal, viewers,
capacity, recent}` (plus `currency`, `status`, the video's `stream` state and whether a `replay`
exists, so pages turn live, reconnect or offer the replay by themselves, and the `room`: the
question on screen, the questions on the page with their upvotes; `matched`, what sponsors'
matches add beside `raised`, the `match` to show, and the `milestones` crossed, which pages
celebrate once), a few hundred bytes to a few KB of JSON, built from the database once per
change for the whole deployment (by the event's elected publisher), encoded once, and sent as is
to every socket. Clients keep the highest `version`.
"""

from __future__ import annotations

import json
from typing import Any

from donations.selectors import event_matching, event_tally, milestone_crossings
from engagement import selectors as engagement_selectors
from events.selectors import event_summary, public_status
from streaming.selectors import event_stream_state

RECENT_DONORS = 5


def build_snapshot(*, event_id: int, version: int, viewers: int) -> dict[str, Any]:
    """Reads the event, its tally, its stream and its room (thirteen queries: the event, the
    donations app's five (six with match offers), the stream, the engagement app's six).
    Donor names and messages go out as the donors allowed them (`donations.selectors`), as JSON
    strings: clients must show them as text. Raises Event.DoesNotExist for an unknown event."""
    event = event_summary(event_id=event_id)
    tally = event_tally(event_id=event_id)
    stream = event_stream_state(event_id=event_id)
    matching = event_matching(event_id=event_id)
    match = matching.current
    recent = [
        {"name": donor.display_name, "amount": donor.amount_minor, "message": donor.message}
        for donor in tally.recent[:RECENT_DONORS]
    ]
    return {
        "version": version,
        # Backstage is the staff's: the public sees "scheduled" until the show goes live.
        "status": public_status(event.status),
        "currency": event.currency,
        "goal": event.goal_minor,
        "raised": tally.raised_minor,
        "donors": tally.donors,
        "donations": tally.donations,
        "viewers": viewers,
        # Pages refused a seat come back as soon as `viewers` is below it (a larger tier).
        "capacity": event.capacity,
        "recent": recent,
        # Sponsors' money beside the donors' (never in `raised`), and the match to show.
        "matched": matching.matched_minor,
        "match": None
        if match is None
        else {
            "sponsor": match.sponsor,
            "ratio": match.ratio,
            "cap": match.cap_minor,
            "matched": match.matched_minor,
            "left": match.left_minor,
            "starts": match.starts_at.isoformat(),
            "ends": match.ends_at.isoformat(),
        },
        "milestones": [
            {"id": m.milestone_id, "label": m.label, "at": m.at.isoformat()}
            for m in milestone_crossings(event_id=event_id)
        ],
        # none, idle, live, reconnecting, stalled or ended; URLs (maybe signed, expiring)
        # come from stream.json.
        "stream": stream.state,
        "replay": stream.replay_url is not None,
        # Questions are attendees' text: clients show them as text, as donor names.
        "room": engagement_selectors.room_state(event_id=event_id),
    }


def encode(snapshot: dict[str, Any]) -> str:
    """Compact JSON. `<`, `>` and `&` are escaped too, so the text stays inert even if someone
    ever inlines it into HTML."""
    text = json.dumps(snapshot, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
