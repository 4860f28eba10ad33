"""Questions: attendees ask and upvote, staff approve, dismiss, mark answered and pin one "on
screen now" (polls: engagement/polls.py).

Every change every viewer sees is told to the live room on commit (`events.livebus`, kind
"engagement"); a question held for staff changes nothing public and tells nobody. A refused
request raises `Refused` (a code for the page, a sentence for the person) and changes nothing.
Participants are keys (engagement.models), never sockets.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from engagement.models import (
    QUESTION_MAX_CHARS,
    Question,
    QuestionStatus,
    QuestionVote,
    RoomSettings,
)
from events import livebus, ratelimits
from events.models import Event, EventStatus

log = logging.getLogger(__name__)

# Per participant and event: a few questions a minute, so one attendee cannot flood the queue.
QUESTIONS_PER_WINDOW = 3
QUESTION_WINDOW_S = 60
# The show is on, or about to be: the room takes questions and votes.
TAKING_PART = (EventStatus.SCHEDULED, EventStatus.BACKSTAGE, EventStatus.LIVE)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


class Refused(Exception):
    """A request refused with a `code` for the page and a `message` for the person; nothing
    was changed. `status` is the HTTP status a staff view answers with."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.status = status


def tell_room(event_id: int) -> None:
    """On commit, tell the live room that what every viewer sees of the room changed."""
    transaction.on_commit(partial(livebus.publish_change, event_id=event_id, kind="engagement"))


@dataclass(frozen=True)
class RoomRules:
    status: str
    questions_open: bool
    show_questions_at_once: bool


def room_rules(*, event_id: int) -> RoomRules:
    """The event's status and question settings (one query). Raises Refused for no event."""
    row = (
        Event.objects.filter(pk=event_id)
        .values_list(
            "status", "room_settings__questions_open", "room_settings__show_questions_at_once"
        )
        .first()
    )
    if row is None:
        raise Refused("not_found", "No such event.", status=404)
    status, questions_open, at_once = row
    return RoomRules(
        status=status,
        questions_open=True if questions_open is None else questions_open,
        show_questions_at_once=bool(at_once),
    )


def check_question_text(text: str) -> str:
    """The question with its whitespace folded (one line), or Refused with the reason."""
    folded = " ".join(text.split())
    if not folded:
        raise Refused("empty", "Type your question first.")
    if len(folded) > QUESTION_MAX_CHARS:
        raise Refused(
            "too_long",
            f"Please keep your question to {QUESTION_MAX_CHARS} characters (it has {len(folded)}).",
        )
    if _CONTROLS.search(folded):
        raise Refused("bad_text", "Your question cannot contain control characters.")
    return folded


def check_taking_part(rules: RoomRules) -> None:
    if rules.status not in TAKING_PART:
        raise Refused("closed", "The show has ended: the room no longer takes questions or votes.")


@dataclass(frozen=True)
class Asked:
    question_id: int
    status: str  # pending (held for staff) or approved (on every page)


def ask_question(*, event_id: int, asker: str, text: str) -> Asked:
    """A participant's question: held for staff, or on every page at once when the event's
    settings say so. Refused (nothing stored) when the text is empty, too long or holds
    control characters, when the show is over or questions are closed, and past
    QUESTIONS_PER_WINDOW per participant and minute (counted only for questions that pass
    the other checks)."""
    folded = check_question_text(text)
    rules = room_rules(event_id=event_id)
    check_taking_part(rules)
    if not rules.questions_open:
        raise Refused("closed", "Questions are closed for now.")
    wait_s = ratelimits.hit(
        scope=f"question:{event_id}",
        subject=asker,
        limit=QUESTIONS_PER_WINDOW,
        window_s=QUESTION_WINDOW_S,
    )
    if wait_s is not None:
        raise Refused(
            "rate_limited",
            f"You can ask {QUESTIONS_PER_WINDOW} questions a minute: please wait {wait_s} s.",
        )
    approved = rules.show_questions_at_once
    with transaction.atomic():
        question = Question.objects.create(
            event_id=event_id,
            text=folded,
            asker=asker,
            status=QuestionStatus.APPROVED if approved else QuestionStatus.PENDING,
            decided_at=timezone.now() if approved else None,
        )
        if approved:
            tell_room(event_id)
    log.info(
        "question asked",
        extra={"event_id": event_id, "question_id": question.pk, "status": question.status},
    )
    return Asked(question_id=question.pk, status=question.status)


def upvote_question(*, event_id: int, question_id: int, voter: str) -> None:
    """One upvote of an approved question by a participant. Refused for a question that is
    not the event's or not on the page, and for a second upvote by the same participant (the
    unique constraint decides, across processes)."""
    status = (
        Question.objects.filter(pk=question_id, event_id=event_id)
        .values_list("status", flat=True)
        .first()
    )
    if status is None:
        raise Refused("not_found", "That question is not in this event.")
    if status != QuestionStatus.APPROVED:
        raise Refused("not_open", "Only questions on the page can be upvoted.")
    try:
        with transaction.atomic():
            QuestionVote.objects.create(question_id=question_id, voter=voter)
            tell_room(event_id)
    except IntegrityError:
        raise Refused("already_upvoted", "You have already upvoted this question.") from None


# --- Staff ------------------------------------------------------------------------------------


def _question_for_update(event_id: int, question_id: int) -> Question:
    """The event's question, locked. Raises Question.DoesNotExist for another event's."""
    return Question.objects.select_for_update().get(pk=question_id, event_id=event_id)


def lock_room(event_id: int) -> None:
    """Serializes the staff's changes to one event's "on screen now" (FOR NO KEY UPDATE on the
    event's row: gifts and votes, which only reference it, are not held up)."""
    list(Event.objects.select_for_update(no_key=True).filter(pk=event_id).values_list("pk"))


@transaction.atomic
def moderate_question(
    *, event_id: int, question_id: int, action: str, by_user_id: int | None
) -> Question:
    """Staff's word on a question: "approve" (on every page), "dismiss" (off every page),
    "answer" (marked answered, off the list), "pin" (approved and "on screen now" for every
    viewer, in place of the one pinned before) or "unpin". Raises Question.DoesNotExist for a
    question of another event, Refused for an action that does not apply (pinning a dismissed
    question) or an unknown one."""
    if action not in MODERATION:
        raise Refused("unknown_action", "No such action.", status=404)
    lock_room(event_id)
    question = _question_for_update(event_id, question_id)
    now = timezone.now()
    if action == "approve":
        if question.status != QuestionStatus.APPROVED:
            question.status, question.decided_at = QuestionStatus.APPROVED, now
    elif action == "dismiss":
        question.status, question.decided_at, question.on_screen = (
            QuestionStatus.DISMISSED, now, False,
        )  # fmt: skip
    elif action == "answer":
        question.status, question.answered_at, question.on_screen = (
            QuestionStatus.ANSWERED, now, False,
        )  # fmt: skip
    elif action == "pin":
        if question.status == QuestionStatus.DISMISSED:
            raise Refused("dismissed", "Approve the question again before you pin it.")
        Question.objects.filter(event_id=event_id, on_screen=True).exclude(pk=question.pk).update(
            on_screen=False
        )
        if question.status != QuestionStatus.APPROVED:
            question.status, question.decided_at = QuestionStatus.APPROVED, now
        question.on_screen = True
    else:  # unpin
        question.on_screen = False
    question.save(update_fields=["status", "decided_at", "answered_at", "on_screen"])
    tell_room(event_id)
    log.info(
        "question moderated",
        extra={"event_id": event_id, "question_id": question_id, "action": action,
               "user_id": by_user_id},
    )  # fmt: skip
    return question


MODERATION = ("approve", "dismiss", "answer", "pin", "unpin")


@transaction.atomic
def set_question_settings(
    *, event_id: int, questions_open: bool, show_questions_at_once: bool, by_user_id: int | None
) -> RoomSettings:
    """The event's question settings; every page's question box follows."""
    settings, _ = RoomSettings.objects.update_or_create(
        event_id=event_id,
        defaults={
            "questions_open": questions_open,
            "show_questions_at_once": show_questions_at_once,
        },
    )
    tell_room(event_id)
    log.info(
        "question settings changed",
        extra={"event_id": event_id, "questions_open": questions_open,
               "at_once": show_questions_at_once, "user_id": by_user_id},
    )  # fmt: skip
    return settings
