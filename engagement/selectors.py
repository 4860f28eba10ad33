"""Reads of the room: what every viewer sees (the live room's snapshot carries it), what one
participant already did (the event page), and the staff's queue (the live dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q

from engagement.models import Question, QuestionStatus, QuestionVote
from events import profanity
from events.models import Event

# The page's list: the most upvoted questions, and the newest (so a new one can be seen, and
# upvoted, before it has votes).
TOP_QUESTIONS = 5
NEWEST_QUESTIONS = 3
STAFF_LIST = 50


def room_state(*, event_id: int) -> dict[str, Any]:
    """What every viewer sees of the room, as JSON values (three queries):
    `{"asking": bool, "on_screen": question | null, "questions": [question, …]}`, a question
    being `{"id", "text", "votes"}`; texts masked when the campaign's profanity filter is on.
    The asker is never part of it."""
    mask, asking = (
        Event.objects.filter(pk=event_id)
        .values_list("campaign__ticker_profanity_filter", "room_settings__questions_open")
        .get()
    )
    shown = Question.objects.filter(event_id=event_id, status=QuestionStatus.APPROVED).annotate(
        n=Count("votes")
    )
    # The one on screen (if any) first, then the most upvoted.
    top = list(shown.order_by("-on_screen", "-n", "-created_at", "-pk")[: TOP_QUESTIONS + 1])
    pinned = top[0] if top and top[0].on_screen else None
    if pinned is None:
        top = top[:TOP_QUESTIONS]
    newest = list(shown.filter(n=0).order_by("-created_at", "-pk")[:NEWEST_QUESTIONS])

    def public(question: Question) -> dict[str, Any]:
        text = profanity.mask(question.text) if mask else question.text
        return {"id": question.pk, "text": text, "votes": question.n}  # type: ignore[attr-defined]

    listed = top + [q for q in newest if q.pk not in {t.pk for t in top}]
    return {
        "asking": asking is not False,
        "on_screen": public(pinned) if pinned is not None else None,
        "questions": [public(q) for q in listed],
    }


def participant_choices(*, event_id: int, participant: str | None) -> dict[str, Any]:
    """What this participant already did in the event's room, for the page to show it when it
    loads: `{"upvoted": [question ids]}` (one query; none without a participant)."""
    if participant is None:
        return {"upvoted": []}
    upvoted = QuestionVote.objects.filter(
        question__event_id=event_id, voter=participant
    ).values_list("question_id", flat=True)
    return {"upvoted": sorted(upvoted)}


@dataclass(frozen=True)
class StaffQuestion:
    question_id: int
    text: str  # as asked: staff read the original
    masked: bool  # the page shows it with words masked
    status: str
    status_label: str
    votes: int
    on_screen: bool
    asked_at: Any


@dataclass(frozen=True)
class StaffRoom:
    questions_open: bool
    show_questions_at_once: bool
    pending: list[StaffQuestion]
    pending_count: int
    shown: list[StaffQuestion]  # approved, the one on screen first, then by upvotes
    answered_count: int
    dismissed_count: int


def staff_room(*, event_id: int, mask: bool) -> StaffRoom:
    """The dashboard's questions: the queue (oldest first), those on the page, and counts
    (three queries)."""
    questions_open, at_once, pending_count, answered, dismissed = (
        Event.objects.filter(pk=event_id)
        .annotate(
            pending=Count("questions", filter=Q(questions__status=QuestionStatus.PENDING)),
            answered=Count("questions", filter=Q(questions__status=QuestionStatus.ANSWERED)),
            dismissed=Count("questions", filter=Q(questions__status=QuestionStatus.DISMISSED)),
        )
        .values_list(
            "room_settings__questions_open",
            "room_settings__show_questions_at_once",
            "pending",
            "answered",
            "dismissed",
        )
        .get()
    )
    questions = Question.objects.filter(event_id=event_id).annotate(n=Count("votes"))

    def row(q: Question) -> StaffQuestion:
        return StaffQuestion(
            question_id=q.pk,
            text=q.text,
            masked=mask and profanity.mask(q.text) != q.text,
            status=q.status,
            status_label=QuestionStatus(q.status).label,
            votes=q.n,  # type: ignore[attr-defined]
            on_screen=q.on_screen,
            asked_at=q.created_at,
        )

    pending = questions.filter(status=QuestionStatus.PENDING).order_by("created_at", "pk")
    shown = questions.filter(status=QuestionStatus.APPROVED).order_by("-on_screen", "-n", "pk")
    return StaffRoom(
        questions_open=questions_open is not False,
        show_questions_at_once=bool(at_once),
        pending=[row(q) for q in pending[:STAFF_LIST]],
        pending_count=pending_count,
        shown=[row(q) for q in shown[:STAFF_LIST]],
        answered_count=answered,
        dismissed_count=dismissed,
    )
