"""Polls: staff prepare one (a question, 2 to 6 answers), open it for every viewer, reveal its
results to all or leave them to voters, close it and take it off the page; attendees vote once.

Counts are exact: a vote is a row, unique per poll and participant, and it is counted only
while the poll is open. A vote reads the poll's status under `FOR KEY SHARE` on the poll's
row (votes do not wait for each other); closing takes `FOR UPDATE`, which waits for the votes
in flight and makes later ones see the poll closed, so the counts at the close are final.
Every change every viewer sees is told to the live room on commit.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from engagement.models import (
    POLL_MAX_OPTIONS,
    POLL_MIN_OPTIONS,
    POLL_OPTION_MAX_CHARS,
    POLL_QUESTION_MAX_CHARS,
    MomentKind,
    Poll,
    PollOption,
    PollStatus,
    PollVote,
)
from engagement.moments import label_of, record_moment
from engagement.services import Refused, check_taking_part, lock_room, room_rules, tell_room

log = logging.getLogger(__name__)

# The poll's status and whether the option is one of its answers, the poll's row locked
# against a close (not against other votes). Literal table names: Django's defaults for these
# models.
_VOTE_CHECK = """
SELECT p.status, EXISTS (
  SELECT 1 FROM engagement_polloption o WHERE o.id = %s AND o.poll_id = p.id
)
FROM engagement_poll p WHERE p.id = %s AND p.event_id = %s
"""
_VOTE_CHECK_LOCKED = _VOTE_CHECK + "FOR KEY SHARE OF p"


def check_poll(*, question: str, options: list[str]) -> tuple[str, list[str]]:
    """The question and the answers (blank ones left out) stripped, or Refused with the
    reason: a question of 1 to 200 characters, 2 to 6 different answers of at most 100."""
    question = " ".join(question.split())
    answers = [" ".join(option.split()) for option in options]
    answers = [answer for answer in answers if answer]
    if not question:
        raise Refused("empty", "Type the poll's question.")
    if len(question) > POLL_QUESTION_MAX_CHARS:
        raise Refused(
            "too_long",
            f"Keep the question to {POLL_QUESTION_MAX_CHARS} characters (it has {len(question)}).",
        )
    if not POLL_MIN_OPTIONS <= len(answers) <= POLL_MAX_OPTIONS:
        raise Refused(
            "options",
            f"A poll has {POLL_MIN_OPTIONS} to {POLL_MAX_OPTIONS} answers (this one has "
            f"{len(answers)}).",
        )
    for answer in answers:
        if len(answer) > POLL_OPTION_MAX_CHARS:
            raise Refused(
                "too_long", f"Keep each answer to {POLL_OPTION_MAX_CHARS} characters: “{answer}”."
            )
    if len({a.casefold() for a in answers}) != len(answers):
        raise Refused("options", "Two answers are the same.")
    return question, answers


@transaction.atomic
def create_poll(
    *, event_id: int, question: str, options: list[str], by_user_id: int | None
) -> Poll:
    """A prepared poll (not on any page until opened). Refused for a bad question or answers
    (nothing stored)."""
    question, answers = check_poll(question=question, options=options)
    room_rules(event_id=event_id)  # the event exists
    poll = Poll.objects.create(event_id=event_id, question=question)
    PollOption.objects.bulk_create(
        PollOption(poll=poll, position=n, text=answer) for n, answer in enumerate(answers, 1)
    )
    log.info(
        "poll prepared", extra={"event_id": event_id, "poll_id": poll.pk, "user_id": by_user_id}
    )
    return poll


POLL_ACTIONS = ("open", "close", "reveal", "hide-results", "remove")


@transaction.atomic
def run_poll(*, event_id: int, poll_id: int, action: str, by_user_id: int | None) -> Poll:
    """Staff's actions on a poll: "open" (for every viewer, a moment of the show; an open poll
    of the event closes),
    "close" (no more votes; waits for the votes in flight), "reveal" or "hide-results" (the
    results on every page, or only on voters'), "remove" (a closed poll off the page). Raises
    Poll.DoesNotExist for a poll of another event, Refused for an action that does not apply."""
    if action not in POLL_ACTIONS:
        raise Refused("unknown_action", "No such action.", status=404)
    lock_room(event_id)
    poll = Poll.objects.select_for_update().get(pk=poll_id, event_id=event_id)
    now = timezone.now()
    if action == "open":
        if poll.status != PollStatus.OPEN:
            for other in Poll.objects.select_for_update().filter(
                event_id=event_id, status=PollStatus.OPEN
            ):
                other.status, other.closed_at = PollStatus.CLOSED, now
                other.save(update_fields=["status", "closed_at"])
            poll.status, poll.opened_at, poll.closed_at = PollStatus.OPEN, now, None
            # A moment of the show, once per opening.
            record_moment(
                event_id=event_id, kind=MomentKind.POLL, label=label_of(poll.question), at=now,
                source_key=f"poll:{poll.pk}:{now.timestamp():.6f}",
            )  # fmt: skip
    elif action == "close":
        if poll.status != PollStatus.OPEN:
            raise Refused("not_open", "Only an open poll can be closed.")
        poll.status, poll.closed_at = PollStatus.CLOSED, now
    elif action in ("reveal", "hide-results"):
        poll.results_revealed = action == "reveal"
    else:  # remove
        if poll.status == PollStatus.OPEN:
            raise Refused("open", "Close the poll before you take it off the page.")
        poll.status = PollStatus.ARCHIVED
    poll.save(update_fields=["status", "opened_at", "closed_at", "results_revealed"])
    tell_room(event_id)
    log.info(
        "poll changed",
        extra={"event_id": event_id, "poll_id": poll_id, "action": action, "user_id": by_user_id},
    )
    return poll


def cast_vote(*, event_id: int, poll_id: int, option_id: int, voter: str) -> None:
    """One participant's vote. Refused (nothing counted) for a poll of another event, a poll
    that is not open (closed meanwhile included), an answer of another poll, a second vote by
    the same participant (the unique constraint decides, across processes), and once the show
    is over."""
    check_taking_part(room_rules(event_id=event_id))
    sql = _VOTE_CHECK_LOCKED if connection.vendor == "postgresql" else _VOTE_CHECK
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [option_id, poll_id, event_id])
                row = cursor.fetchone()
            if row is None:
                raise Refused("not_found", "That poll is not in this event.")
            status, known_option = row
            if status != PollStatus.OPEN:
                raise Refused("poll_closed", "This poll is closed: your vote was not counted.")
            if not known_option:
                raise Refused("bad_option", "That is not one of this poll's answers.")
            PollVote.objects.create(poll_id=poll_id, option_id=option_id, voter=voter)
            tell_room(event_id)
    except IntegrityError:
        raise Refused("already_voted", "You have already voted in this poll.") from None


# The poll's status, its row locked against a close (not against other votes).
_POLL_STATUS = "SELECT status FROM engagement_poll WHERE id = %s AND event_id = %s"
# Votes not yet cast: the voters whose vote went in (the others had voted already).
_INSERT_VOTES = """
INSERT INTO engagement_pollvote (poll_id, option_id, voter, created_at) VALUES {rows}
ON CONFLICT (poll_id, voter) DO NOTHING RETURNING voter
"""


def cast_votes(
    *, event_id: int, poll_id: int, ballots: list[tuple[str, int]]
) -> list[Refused | None]:
    """Many participants' `(voter, option_id)` votes in one poll at once (the live room sends the
    votes that arrive together, liveroom/inbound.py), with `cast_vote`'s rules and in one
    transaction and one insert: for each ballot, in order, None when it was counted, or the
    Refused that says why not (another answer's poll, a second vote by the participant, before
    or in the same batch). Raises Refused, for every ballot, when the poll is not the event's
    or not open, and once the show is over."""
    check_taking_part(room_rules(event_id=event_id))
    sql = _POLL_STATUS + (" FOR KEY SHARE" if connection.vendor == "postgresql" else "")
    answers: list[Refused | None] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [poll_id, event_id])
            row = cursor.fetchone()
        if row is None:
            raise Refused("not_found", "That poll is not in this event.")
        if row[0] != PollStatus.OPEN:
            raise Refused("poll_closed", "This poll is closed: your vote was not counted.")
        options = set(PollOption.objects.filter(poll_id=poll_id).values_list("pk", flat=True))
        first: dict[str, int] = {}  # voter → their ballot's index
        for n, (voter, option_id) in enumerate(ballots):
            if option_id not in options:
                answers.append(Refused("bad_option", "That is not one of this poll's answers."))
            elif voter in first:
                answers.append(_already_voted())
            else:
                first[voter] = n
                answers.append(None)
        if first:
            now = timezone.now()
            params: list[int | str | datetime] = []
            for voter, n in first.items():
                params += [poll_id, ballots[n][1], voter, now]
            rows = ", ".join(["(%s, %s, %s, %s)"] * len(first))
            with connection.cursor() as cursor:
                cursor.execute(_INSERT_VOTES.format(rows=rows), params)
                counted = {voter for (voter,) in cursor.fetchall()}
            for voter, n in first.items():
                if voter not in counted:
                    answers[n] = _already_voted()
            if counted:
                tell_room(event_id)
    return answers


def _already_voted() -> Refused:
    return Refused("already_voted", "You have already voted in this poll.")
