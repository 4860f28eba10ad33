"""Polls: prepared with 2 to 6 answers, opened one at a time, one vote per participant while
open, exact counts (a close waits for the votes in flight), results revealed or left to voters,
taken off the page."""

import threading

import pytest

from engagement import polls, selectors
from engagement.models import Poll, PollOption, PollStatus, PollVote
from engagement.services import Refused
from events.models import EventStatus
from tests.engagement.factories import open_poll
from tests.factories import EventFactory

ADA = "a" * 32
BOB = "b" * 32


def run(event, poll, action):
    return polls.run_poll(event_id=event.pk, poll_id=poll.pk, action=action, by_user_id=1)


def vote(event, poll, position, voter):
    option = poll.options.get(position=position)
    polls.cast_vote(event_id=event.pk, poll_id=poll.pk, option_id=option.pk, voter=voter)


@pytest.mark.parametrize(
    ("question", "options", "words"),
    [
        ("  ", ["A", "B"], "Type the poll's question."),
        ("Which?", ["A", " ", ""], "A poll has 2 to 6 answers (this one has 1)."),
        ("Which?", [str(n) for n in range(7)], "A poll has 2 to 6 answers (this one has 7)."),
        ("Which?", ["Rent", "rent "], "Two answers are the same."),
        ("x" * 201, ["A", "B"], "Keep the question to 200 characters (it has 201)."),
        ("Which?", ["A", "b" * 101], f"Keep each answer to 100 characters: “{'b' * 101}”."),
    ],
)
def test_a_bad_poll_is_refused_with_the_reason_and_nothing_is_stored(
    event, question, options, words
):
    with pytest.raises(Refused) as refused:
        polls.create_poll(event_id=event.pk, question=question, options=options, by_user_id=1)
    assert refused.value.message == words
    assert not Poll.objects.exists()
    assert not PollOption.objects.exists()


def test_a_prepared_poll_is_on_no_page_until_opened(event):
    poll = polls.create_poll(
        event_id=event.pk, question=" Which  first? ", options=["Rent", "", "Jobs"], by_user_id=1
    )
    assert (poll.question, poll.status) == ("Which first?", "draft")
    assert list(poll.options.values_list("position", "text")) == [(1, "Rent"), (2, "Jobs")]
    assert selectors.room_state(event_id=event.pk)["poll"] is None
    with pytest.raises(Refused) as refused:
        vote(event, poll, 1, ADA)
    assert refused.value.code == "poll_closed"


def test_participants_vote_once_while_the_poll_is_open_and_the_counts_are_exact(event):
    poll = open_poll(event)
    vote(event, poll, 1, ADA)
    vote(event, poll, 2, BOB)
    with pytest.raises(Refused) as refused:
        vote(event, poll, 3, ADA)
    assert (refused.value.code, refused.value.message) == (
        "already_voted", "You have already voted in this poll.",
    )  # fmt: skip
    shown = selectors.room_state(event_id=event.pk)["poll"]
    assert shown == {
        "id": poll.pk,
        "question": "Which issue first?",
        "status": "open",
        "revealed": False,
        "total": 2,
        "options": [
            {"id": o.pk, "text": o.text, "votes": n}
            for o, n in zip(poll.options.all(), [1, 1, 0], strict=True)
        ],
    }
    assert selectors.participant_choices(event_id=event.pk, participant=ADA)["voted"] == {
        str(poll.pk): poll.options.get(position=1).pk
    }


def test_a_vote_after_the_close_is_refused_and_not_counted(event):
    poll = open_poll(event)
    vote(event, poll, 1, ADA)
    run(event, poll, "close")
    with pytest.raises(Refused) as refused:
        vote(event, poll, 1, BOB)
    assert (refused.value.code, refused.value.message) == (
        "poll_closed", "This poll is closed: your vote was not counted.",
    )  # fmt: skip
    assert PollVote.objects.count() == 1
    assert selectors.room_state(event_id=event.pk)["poll"]["status"] == "closed"


def test_an_answer_of_another_poll_or_a_poll_of_another_event_is_refused(event):
    poll = open_poll(event)
    other = open_poll(EventFactory(status=EventStatus.LIVE))
    stranger = other.options.first()
    with pytest.raises(Refused) as refused:
        polls.cast_vote(event_id=event.pk, poll_id=poll.pk, option_id=stranger.pk, voter=ADA)
    assert refused.value.code == "bad_option"
    with pytest.raises(Refused) as refused:
        polls.cast_vote(event_id=event.pk, poll_id=other.pk, option_id=stranger.pk, voter=ADA)
    assert refused.value.code == "not_found"
    assert not PollVote.objects.exists()


def test_no_votes_once_the_show_is_over(event):
    poll = open_poll(event)
    event.status = EventStatus.ENDED
    event.save()
    with pytest.raises(Refused) as refused:
        vote(event, poll, 1, ADA)
    assert refused.value.code == "closed"
    assert not PollVote.objects.exists()


def test_opening_a_poll_closes_the_one_that_was_open(event):
    first = open_poll(event, question="First?")
    second = open_poll(event, question="Second?")
    first.refresh_from_db()
    assert (first.status, second.status) == ("closed", "open")
    assert selectors.room_state(event_id=event.pk)["poll"]["id"] == second.pk


def test_staff_reveal_the_results_and_take_a_closed_poll_off_the_page(event):
    poll = open_poll(event)
    run(event, poll, "reveal")
    assert selectors.room_state(event_id=event.pk)["poll"]["revealed"] is True
    with pytest.raises(Refused) as refused:
        run(event, poll, "remove")
    assert refused.value.message == "Close the poll before you take it off the page."
    run(event, poll, "close")
    run(event, poll, "remove")
    assert selectors.room_state(event_id=event.pk)["poll"] is None
    assert Poll.objects.get().status == PollStatus.ARCHIVED


def test_staff_cannot_run_another_events_poll(event):
    other = open_poll(EventFactory(status=EventStatus.LIVE))
    with pytest.raises(Poll.DoesNotExist):
        run(event, other, "close")
    assert Poll.objects.get().status == "open"


def test_votes_racing_a_close_are_counted_before_it_or_refused_after_it(transactional_db):
    """Voters keep voting from threads while staff close the poll: the counts read right
    after the close are final, and every vote counted was acknowledged."""
    event = EventFactory(status=EventStatus.LIVE)
    poll = open_poll(event)
    options = list(poll.options.values_list("pk", flat=True))
    counted, refused = [], []
    started = threading.Barrier(5)

    def voter(n: int) -> None:
        from django.db import connection

        started.wait()
        try:
            for i in range(40):
                try:
                    polls.cast_vote(
                        event_id=event.pk, poll_id=poll.pk, option_id=options[i % 3],
                        voter=f"{n:02d}{i:030d}",
                    )  # fmt: skip
                    counted.append(1)
                except Refused as refusal:
                    refused.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=voter, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    started.wait()
    while len(counted) < 20:  # some votes are in before the close
        threading.Event().wait(0.001)
    run(event, poll, "close")
    at_close = PollVote.objects.filter(poll=poll).count()
    for thread in threads:
        thread.join()
    assert PollVote.objects.filter(poll=poll).count() == at_close == len(counted)
    assert set(refused) <= {"poll_closed"}
    assert len(counted) + len(refused) == 160


CAROL, DAN = "c" * 32, "d" * 32


def codes(answers):
    return [None if a is None else a.code for a in answers]


def test_votes_cast_together_follow_the_same_rules_in_one_go(
    event, django_capture_on_commit_callbacks
):
    poll = open_poll(event)
    rent, jobs = poll.options.get(position=1).pk, poll.options.get(position=2).pk
    stranger = open_poll(EventFactory(status=EventStatus.LIVE)).options.first().pk
    vote(event, poll, 1, ADA)  # before the batch
    ballots = [(ADA, jobs), (BOB, jobs), (CAROL, stranger), (BOB, rent), (DAN, rent)]
    with django_capture_on_commit_callbacks(execute=False) as told:
        answers = polls.cast_votes(event_id=event.pk, poll_id=poll.pk, ballots=ballots)
    # Ada voted before, Carol's answer is another poll's, Bob's second vote is refused.
    assert codes(answers) == ["already_voted", None, "bad_option", "already_voted", None]
    assert answers[0].message == "You have already voted in this poll."
    assert sorted(PollVote.objects.values_list("voter", "option_id")) == [
        (ADA, rent), (BOB, jobs), (DAN, rent),
    ]  # fmt: skip
    assert len(told) == 1  # the room is told once for the batch


def test_votes_cast_together_in_a_closed_or_foreign_poll_are_all_refused(event):
    poll = open_poll(event)
    option = poll.options.first().pk
    other = open_poll(EventFactory(status=EventStatus.LIVE))
    with pytest.raises(Refused) as refused:
        polls.cast_votes(event_id=event.pk, poll_id=other.pk, ballots=[(ADA, option)])
    assert refused.value.code == "not_found"
    run(event, poll, "close")
    with pytest.raises(Refused) as refused:
        polls.cast_votes(event_id=event.pk, poll_id=poll.pk, ballots=[(ADA, option), (BOB, option)])
    assert refused.value.code == "poll_closed"
    assert not PollVote.objects.exists()
