"""Moments of the show: what happened when, to read the money against ("Speaker: Jane Doe",
an ask pinned, a poll opened). Staff mark them from the live dashboard; asks and polls record
theirs when they are pinned or opened (engagement/asks.py, engagement/polls.py). The report
(liveroom/report.py) reads them with the money and viewers of the minutes that follow.

Recording is idempotent by (event, source_key): the unique constraint decides, across
processes, and a second recording with the same key returns the first moment unchanged.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from engagement.models import MOMENT_KEY_MAX_CHARS, MOMENT_LABEL_MAX_CHARS, Moment, MomentKind
from engagement.services import Refused, room_rules

log = logging.getLogger(__name__)

_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_FORM_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
# What staff may mark by hand (milestones come from the ledger, not from a button).
STAFF_KINDS = (MomentKind.SPEAKER, MomentKind.ASK, MomentKind.POLL, MomentKind.OTHER)


def check_moment(*, kind: str, label: str) -> tuple[str, str]:
    """The kind and the label folded to one line, or Refused with the reason: a known kind and
    a label of 1 to MOMENT_LABEL_MAX_CHARS characters without control characters."""
    if kind not in MomentKind.values:
        raise Refused("kind", "Choose what kind of moment it is (speaker, ask, poll, other).")
    folded = " ".join(label.split())
    if not folded:
        raise Refused("empty", "Type a label for the moment, like the speaker's name.")
    if len(folded) > MOMENT_LABEL_MAX_CHARS:
        raise Refused(
            "too_long",
            f"Keep the moment's label to {MOMENT_LABEL_MAX_CHARS} characters "
            f"(it has {len(folded)}).",
        )
    if _CONTROLS.search(folded):
        raise Refused("bad_text", "A moment's label cannot contain control characters.")
    return kind, folded


def label_of(text: str) -> str:
    """A longer text (a poll's question, an ask's) as a moment's label: folded to one line and
    cut to MOMENT_LABEL_MAX_CHARS with "…", control characters left out (so the label always
    passes check_moment, and a pin or an opening is never refused for its moment)."""
    folded = " ".join(_CONTROLS.sub(" ", text).split()) or "(untitled)"
    if len(folded) <= MOMENT_LABEL_MAX_CHARS:
        return folded
    return folded[: MOMENT_LABEL_MAX_CHARS - 1] + "…"


def record_moment(
    *,
    event_id: int,
    kind: str,
    label: str,
    at: datetime | None = None,
    source_key: str | None = None,
    by_user_id: int | None = None,
) -> Moment:
    """A moment of the event at `at` (now without it). With a `source_key`, once per event and
    key: a second call returns the moment the first made, unchanged. Refused for an unknown
    kind or a bad label (check_moment; nothing stored). Safe inside a caller's transaction (a
    savepoint around the insert)."""
    kind, label = check_moment(kind=kind, label=label)
    key = (source_key or "")[:MOMENT_KEY_MAX_CHARS]
    when = at or timezone.now()
    try:
        with transaction.atomic():
            moment = Moment.objects.create(
                event_id=event_id,
                kind=kind,
                label=label,
                at=when,
                source_key=key,
                marked_by_id=by_user_id,
            )
    except IntegrityError:
        if not key:
            raise
        return Moment.objects.get(event_id=event_id, source_key=key)
    log.info(
        "moment recorded",
        extra={"event_id": event_id, "moment_id": moment.pk, "kind": kind, "user_id": by_user_id},
    )
    return moment


def mark_moment(
    *, event_id: int, kind: str, label: str, form_key: str, by_user_id: int | None
) -> Moment:
    """Staff's "Mark a moment" on the dashboard, now. `form_key` is the form's random key, so a
    double press or a resent form records one moment. Refused for a kind staff do not mark
    (milestones), a bad label, or no such event."""
    if kind not in STAFF_KINDS:
        raise Refused("kind", "Choose what kind of moment it is (speaker, ask, poll, other).")
    room_rules(event_id=event_id)  # the event exists
    source_key = f"staff:{form_key}" if _FORM_KEY.fullmatch(form_key) else None
    return record_moment(
        event_id=event_id, kind=kind, label=label, source_key=source_key, by_user_id=by_user_id
    )
