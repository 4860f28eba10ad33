"""Asks: staff prepare a call to give with its amount and tag, and pin it for every viewer
(one at a time) or take it down. The page shows the pinned ask and hands it to the donate
panel (`window.Pledgecast.room`, static/js/engagement.js), which pre-selects the amount and
sends the tag with the gift; the donations app records it (its part of the seam: see
docs/architecture.md). Every change is told to the live room on commit."""

from __future__ import annotations

import logging
import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from engagement.models import ASK_TAG_MAX_CHARS, ASK_TEXT_MAX_CHARS, Ask, MomentKind
from engagement.moments import label_of, record_moment
from engagement.services import Refused, lock_room, room_rules, tell_room

log = logging.getLogger(__name__)

# An ask is for one gift: from $1 to $100,000 (the donate panel applies the campaign's own
# bounds when the donor gives).
ASK_MIN_MINOR = 100
ASK_MAX_MINOR = 10_000_000
_TAG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def check_ask(*, text: str, amount_minor: int, tag: str) -> tuple[str, str]:
    """The text folded to one line and the tag lower-cased, or Refused with the reason."""
    text = " ".join(text.split())
    tag = tag.strip().lower()
    if not text:
        raise Refused("empty", "Type what the ask says.")
    if len(text) > ASK_TEXT_MAX_CHARS:
        raise Refused(
            "too_long", f"Keep the ask to {ASK_TEXT_MAX_CHARS} characters (it has {len(text)})."
        )
    if not ASK_MIN_MINOR <= amount_minor <= ASK_MAX_MINOR:
        raise Refused("amount", "An ask's amount is from 1 to 100,000.")
    if tag and (len(tag) > ASK_TAG_MAX_CHARS or not _TAG.fullmatch(tag)):
        raise Refused(
            "tag",
            f"A tag is up to {ASK_TAG_MAX_CHARS} lower-case letters, digits and hyphens "
            "(like ask-27-9pm).",
        )
    return text, tag


@transaction.atomic
def create_ask(
    *, event_id: int, text: str, amount_minor: int, tag: str = "", by_user_id: int | None
) -> Ask:
    """A prepared ask (on no page until pinned). Without a tag it gets `ask-<n>`, n one more
    than the event's asks. Refused for bad input or a tag the event already has (nothing
    stored)."""
    text, tag = check_ask(text=text, amount_minor=amount_minor, tag=tag)
    room_rules(event_id=event_id)  # the event exists
    lock_room(event_id)  # numbering: one ask made at a time per event
    if not tag:
        tag = f"ask-{Ask.objects.filter(event_id=event_id).count() + 1}"
    try:
        with transaction.atomic():
            ask = Ask.objects.create(
                event_id=event_id, text=text, amount_minor=amount_minor, tag=tag
            )
    except IntegrityError:
        raise Refused("tag", f"This event already has an ask tagged “{tag}”.") from None
    log.info("ask prepared", extra={"event_id": event_id, "ask_id": ask.pk, "user_id": by_user_id})
    return ask


ASK_ACTIONS = ("pin", "unpin")


@transaction.atomic
def run_ask(*, event_id: int, ask_id: int, action: str, by_user_id: int | None) -> Ask:
    """ "pin" (for every viewer, in place of the ask pinned before; a moment of the show) or
    "unpin". Raises Ask.DoesNotExist for an ask of another event."""
    if action not in ASK_ACTIONS:
        raise Refused("unknown_action", "No such action.", status=404)
    lock_room(event_id)
    ask = Ask.objects.select_for_update().get(pk=ask_id, event_id=event_id)
    now = timezone.now()
    if action == "pin" and not ask.pinned:
        for other in Ask.objects.select_for_update().filter(event_id=event_id, pinned=True):
            other.pinned, other.unpinned_at = False, now
            other.save(update_fields=["pinned", "unpinned_at"])
        ask.pinned, ask.pinned_at, ask.unpinned_at = True, now, None
        # A moment of the show, once per pin (a pin again later is a new one).
        record_moment(
            event_id=event_id, kind=MomentKind.ASK, label=label_of(ask.text), at=now,
            source_key=f"ask:{ask.pk}:{now.timestamp():.6f}",
        )  # fmt: skip
    elif action == "unpin" and ask.pinned:
        ask.pinned, ask.unpinned_at = False, now
    ask.save(update_fields=["pinned", "pinned_at", "unpinned_at"])
    tell_room(event_id)
    log.info(
        "ask changed",
        extra={"event_id": event_id, "ask_id": ask_id, "action": action, "user_id": by_user_id},
    )
    return ask
