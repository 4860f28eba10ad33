"""Reads of the room: what every viewer sees (the live room's snapshot carries it), what one
participant already did (the event page), and the staff's queue (the live dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, F, Q
from django.db.models.functions import TruncMinute

from engagement.models import (
    Ask,
    Moment,
    Poll,
    PollOption,
    PollStatus,
    PollVote,
    Question,
    QuestionStatus,
    QuestionVote,
)
from events import profanity
from events.models import Event

# The page's list: the most upvoted questions, and the newest (so a new one can be seen, and
# upvoted, before it has votes).
TOP_QUESTIONS = 5
NEWEST_QUESTIONS = 3
STAFF_LIST = 50


def room_state(*, event_id: int) -> dict[str, Any]:
    """What every viewer sees of the room, as JSON values (six queries):
    `{"asking": bool, "on_screen": question | null, "questions": [question, …], "poll": poll |
    null, "ask": ask | null}`, a question being `{"id", "text", "votes"}` (texts masked when
    the campaign's profanity filter is on; the asker is never part of it), the poll the open
    one or else the last closed one still on the page: `{"id", "question", "status",
    "revealed", "total", "options": [{"id", "text", "votes"}]}`, the ask the pinned one:
    `{"id", "text", "amount" (minor units), "tag"}`.

    The poll's counts travel to every page, and pages show them to voters only until staff
    reveal them: results are held back so as not to sway votes, not kept secret."""
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
        "poll": _shown_poll(event_id),
        "ask": (
            Ask.objects.filter(event_id=event_id, pinned=True)
            .values("id", "text", "tag", amount=F("amount_minor"))
            .first()
        ),
    }


def _shown_poll(event_id: int) -> dict[str, Any] | None:
    poll = (
        Poll.objects.filter(event_id=event_id, status__in=[PollStatus.OPEN, PollStatus.CLOSED])
        .order_by("-opened_at", "-pk")
        .first()
    )
    if poll is None:
        return None
    options = [
        {"id": o.pk, "text": o.text, "votes": o.n}
        for o in PollOption.objects.filter(poll=poll).annotate(n=Count("votes"))
    ]
    return {
        "id": poll.pk,
        "question": poll.question,
        "status": poll.status,
        "revealed": poll.results_revealed,
        "total": sum(o["votes"] for o in options),
        "options": options,
    }


def participant_choices(*, event_id: int, participant: str | None) -> dict[str, Any]:
    """What this participant already did in the event's room, for the page to show it when it
    loads: `{"upvoted": [question ids], "voted": {poll id: option id}}` (two queries; none
    without a participant)."""
    if participant is None:
        return {"upvoted": [], "voted": {}}
    upvoted = QuestionVote.objects.filter(
        question__event_id=event_id, voter=participant
    ).values_list("question_id", flat=True)
    voted = PollVote.objects.filter(poll__event_id=event_id, voter=participant).values_list(
        "poll_id", "option_id"
    )
    return {"upvoted": sorted(upvoted), "voted": {str(p): o for p, o in voted}}


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


@dataclass(frozen=True)
class StaffOption:
    text: str
    votes: int
    percent: int


@dataclass(frozen=True)
class StaffPoll:
    poll_id: int
    question: str
    status: str
    status_label: str
    revealed: bool
    total: int
    options: list[StaffOption]


def staff_polls(*, event_id: int) -> list[StaffPoll]:
    """The event's polls for the dashboard, those on the page first (open, closed), then the
    prepared ones, then those taken off the page; with exact counts (two queries)."""
    order = {PollStatus.OPEN: 0, PollStatus.CLOSED: 1, PollStatus.DRAFT: 2, PollStatus.ARCHIVED: 3}
    polls = list(Poll.objects.filter(event_id=event_id).order_by("-created_at", "-pk")[:STAFF_LIST])
    options: dict[int, list[tuple[str, int]]] = {}
    for poll_id, text, n in (
        PollOption.objects.filter(poll__in=polls)
        .annotate(n=Count("votes"))
        .order_by("poll_id", "position")
        .values_list("poll_id", "text", "n")
    ):
        options.setdefault(poll_id, []).append((text, n))
    rows = []
    for poll in sorted(polls, key=lambda p: order[PollStatus(p.status)]):
        answers = options.get(poll.pk, [])
        total = sum(n for _, n in answers)
        rows.append(
            StaffPoll(
                poll_id=poll.pk,
                question=poll.question,
                status=poll.status,
                status_label=PollStatus(poll.status).label,
                revealed=poll.results_revealed,
                total=total,
                options=[
                    StaffOption(text=text, votes=n, percent=round(n * 100 / total) if total else 0)
                    for text, n in answers
                ],
            )
        )
    return rows


@dataclass(frozen=True)
class StaffAsk:
    ask_id: int
    text: str
    amount_minor: int
    tag: str
    pinned: bool


def staff_asks(*, event_id: int) -> list[StaffAsk]:
    """The event's asks for the dashboard: the pinned one first, then the newest (one query)."""
    asks = Ask.objects.filter(event_id=event_id).order_by("-pinned", "-created_at", "-pk")
    return [
        StaffAsk(ask_id=a.pk, text=a.text, amount_minor=a.amount_minor, tag=a.tag, pinned=a.pinned)
        for a in asks[:STAFF_LIST]
    ]


def ask_tag_current(event_id: int, tag: str, since: datetime) -> bool:
    """Whether `tag` is the event's pinned ask's, or the tag of one taken down at or after
    `since` (one query). The donations app records such a tag on a gift (donations.asks)."""
    return (
        Ask.objects.filter(event_id=event_id, tag=tag)
        .filter(Q(pinned=True) | Q(unpinned_at__gte=since))
        .exists()
    )


# --- The report (liveroom/report.py) ---------------------------------------------------------


@dataclass(frozen=True)
class MomentPoint:
    at: datetime
    kind: str  # a MomentKind value
    title: str  # "Speaker: Jane Doe"


def event_moments(*, event_id: int) -> list[MomentPoint]:
    """The event's moments, oldest first (one query)."""
    rows = Moment.objects.filter(event_id=event_id).order_by("at", "pk")
    return [MomentPoint(at=m.at, kind=m.kind, title=m.title) for m in rows]


def questions_per_minute(*, event_id: int, start: datetime, end: datetime) -> dict[int, int]:
    """Questions asked in [start, end) per minute (minutes since the epoch, UTC), held ones
    and dismissed ones included: what the audience asked, not what staff showed. One
    aggregate query (GROUP BY the minute, in SQL)."""
    rows = (
        Question.objects.filter(event_id=event_id, created_at__gte=start, created_at__lt=end)
        .annotate(minute=TruncMinute("created_at", tzinfo=UTC))
        .values("minute")
        .annotate(n=Count("id"))
        .values_list("minute", "n")
    )
    return {int(minute.timestamp() // 60): int(n) for minute, n in rows}


@dataclass(frozen=True)
class AskOnScreen:
    ask_id: int
    text: str
    amount_minor: int
    tag: str
    pinned_at: datetime
    unpinned_at: datetime | None  # None: still pinned


def asks_on_screen(*, event_id: int, start: datetime, end: datetime) -> list[AskOnScreen]:
    """The event's asks pinned at some point between `start` and `end`, by when they were
    pinned (one query). An ask keeps only its last pinning: one pinned twice shows once."""
    asks = (
        Ask.objects.filter(event_id=event_id, pinned_at__isnull=False, pinned_at__lt=end)
        .filter(Q(unpinned_at__isnull=True) | Q(unpinned_at__gt=start))
        .filter(Q(pinned=True) | Q(unpinned_at__gte=F("pinned_at")))
        .order_by("pinned_at", "pk")
    )
    return [
        AskOnScreen(
            ask_id=a.pk,
            text=a.text,
            amount_minor=a.amount_minor,
            tag=a.tag,
            pinned_at=a.pinned_at,
            unpinned_at=None if a.pinned else a.unpinned_at,
        )
        for a in asks
        if a.pinned_at is not None
    ]
