"""Questions: asked by participants, held for staff (or shown at once), upvoted once per
participant, moderated by staff; what every page sees of them."""

import threading
from functools import partial

import pytest

from engagement import selectors, services
from engagement.models import Question, QuestionStatus, QuestionVote, RoomSettings
from engagement.services import Refused
from events import livebus
from events.models import EventStatus
from tests.engagement.factories import QuestionFactory, open_poll
from tests.factories import EventFactory

ADA = "a" * 32
BOB = "b" * 32


def told_the_room(callbacks, event_id: int) -> bool:
    return any(
        isinstance(c, partial)
        and c.func is livebus.publish_change
        and c.keywords == {"event_id": event_id, "kind": "engagement"}
        for c in callbacks
    )


def test_a_question_is_held_for_staff_and_tells_the_room_nothing(
    event, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        asked = services.ask_question(event_id=event.pk, asker=ADA, text="  What about\n rent? ")
    question = Question.objects.get()
    assert (asked.question_id, asked.status) == (question.pk, "pending")
    assert (question.text, question.asker, question.status) == ("What about rent?", ADA, "pending")
    assert not told_the_room(callbacks, event.pk)
    assert selectors.room_state(event_id=event.pk)["questions"] == []


def test_an_event_that_shows_questions_at_once_puts_them_on_every_page(
    event, django_capture_on_commit_callbacks
):
    RoomSettings.objects.create(event=event, show_questions_at_once=True)
    with django_capture_on_commit_callbacks() as callbacks:
        asked = services.ask_question(event_id=event.pk, asker=ADA, text="Will you debate?")
    assert asked.status == "approved"
    assert told_the_room(callbacks, event.pk)
    assert selectors.room_state(event_id=event.pk)["questions"] == [
        {"id": asked.question_id, "text": "Will you debate?", "votes": 0}
    ]


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("  \n\t ", "empty", "Type your question first."),
        ("x" * 281, "too_long", "Please keep your question to 280 characters (it has 281)."),
        ("bell\x07", "bad_text", "Your question cannot contain control characters."),
    ],
)
def test_a_bad_question_is_refused_with_the_reason_and_nothing_is_stored(event, text, code, words):
    with pytest.raises(Refused) as refused:
        services.ask_question(event_id=event.pk, asker=ADA, text=text)
    assert (refused.value.code, refused.value.message) == (code, words)
    assert not Question.objects.exists()


def test_a_question_of_exactly_280_characters_is_taken(event):
    services.ask_question(event_id=event.pk, asker=ADA, text="é" * 280)
    assert Question.objects.get().text == "é" * 280


def test_a_participant_asks_three_questions_a_minute_and_others_are_not_held_up(event):
    for n in range(3):
        services.ask_question(event_id=event.pk, asker=ADA, text=f"Question {n}")
    with pytest.raises(Refused) as refused:
        services.ask_question(event_id=event.pk, asker=ADA, text="A fourth")
    assert refused.value.code == "rate_limited"
    assert refused.value.message.startswith("You can ask 3 questions a minute: please wait ")
    services.ask_question(event_id=event.pk, asker=BOB, text="Mine")
    assert sorted(Question.objects.values_list("text", flat=True)) == [
        "Mine", "Question 0", "Question 1", "Question 2",
    ]  # fmt: skip


def test_bad_questions_do_not_use_up_the_participants_allowance(event):
    for _ in range(5):
        with pytest.raises(Refused):
            services.ask_question(event_id=event.pk, asker=ADA, text="")
    services.ask_question(event_id=event.pk, asker=ADA, text="Now a real one")
    assert Question.objects.count() == 1


@pytest.mark.parametrize("status", [EventStatus.ENDED, EventStatus.CANCELLED])
def test_no_questions_once_the_show_is_over(db, status):
    event = EventFactory(status=status)
    with pytest.raises(Refused) as refused:
        services.ask_question(event_id=event.pk, asker=ADA, text="Too late?")
    assert refused.value.code == "closed"
    assert not Question.objects.exists()


def test_no_questions_while_staff_closed_them(event):
    services.set_question_settings(
        event_id=event.pk, questions_open=False, show_questions_at_once=False, by_user_id=1
    )
    with pytest.raises(Refused) as refused:
        services.ask_question(event_id=event.pk, asker=ADA, text="Hello?")
    assert refused.value.code == "closed"
    assert refused.value.message == "Questions are closed for now."
    assert selectors.room_state(event_id=event.pk)["asking"] is False


def test_a_participant_upvotes_a_question_once(event, django_capture_on_commit_callbacks):
    question = QuestionFactory(event=event, status=QuestionStatus.APPROVED)
    with django_capture_on_commit_callbacks() as callbacks:
        services.upvote_question(event_id=event.pk, question_id=question.pk, voter=ADA)
    assert told_the_room(callbacks, event.pk)
    with pytest.raises(Refused) as refused:
        services.upvote_question(event_id=event.pk, question_id=question.pk, voter=ADA)
    assert refused.value.code == "already_upvoted"
    services.upvote_question(event_id=event.pk, question_id=question.pk, voter=BOB)
    assert QuestionVote.objects.filter(question=question).count() == 2
    assert selectors.room_state(event_id=event.pk)["questions"][0]["votes"] == 2
    assert selectors.participant_choices(event_id=event.pk, participant=ADA) == {
        "upvoted": [question.pk],
        "voted": {},
    }


def test_the_same_participant_upvoting_from_many_threads_at_once_counts_once(transactional_db):
    event = EventFactory(status=EventStatus.LIVE)
    question = QuestionFactory(event=event, status=QuestionStatus.APPROVED)
    start = threading.Barrier(8)
    outcomes = []

    def upvote():
        from django.db import connection

        start.wait()
        try:
            services.upvote_question(event_id=event.pk, question_id=question.pk, voter=ADA)
            outcomes.append("counted")
        except Refused as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=upvote) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_upvoted"] * 7 + ["counted"]
    assert QuestionVote.objects.count() == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(QuestionStatus.PENDING, "not_open"), (QuestionStatus.DISMISSED, "not_open")],
)
def test_only_questions_on_the_page_can_be_upvoted(event, status, code):
    question = QuestionFactory(event=event, status=status)
    with pytest.raises(Refused) as refused:
        services.upvote_question(event_id=event.pk, question_id=question.pk, voter=ADA)
    assert refused.value.code == code
    assert not QuestionVote.objects.exists()


def test_another_events_question_cannot_be_upvoted_from_this_event(event):
    other = QuestionFactory(status=QuestionStatus.APPROVED)
    with pytest.raises(Refused) as refused:
        services.upvote_question(event_id=event.pk, question_id=other.pk, voter=ADA)
    assert refused.value.code == "not_found"
    assert not QuestionVote.objects.exists()


def moderate(event, question, action):
    return services.moderate_question(
        event_id=event.pk, question_id=question.pk, action=action, by_user_id=1
    )


def test_staff_approve_pin_answer_and_dismiss(event):
    first = QuestionFactory(event=event, text="First?")
    second = QuestionFactory(event=event, text="Second?")
    moderate(event, first, "approve")
    assert [q["id"] for q in selectors.room_state(event_id=event.pk)["questions"]] == [first.pk]
    moderate(event, second, "pin")  # straight from the queue to the screen
    room = selectors.room_state(event_id=event.pk)
    assert room["on_screen"] == {"id": second.pk, "text": "Second?", "votes": 0}
    moderate(event, first, "pin")  # one on screen at a time
    assert selectors.room_state(event_id=event.pk)["on_screen"]["id"] == first.pk
    assert Question.objects.filter(on_screen=True).count() == 1
    moderate(event, first, "answer")
    room = selectors.room_state(event_id=event.pk)
    assert room["on_screen"] is None
    assert [q["id"] for q in room["questions"]] == [second.pk]
    moderate(event, second, "dismiss")
    assert selectors.room_state(event_id=event.pk)["questions"] == []
    with pytest.raises(Refused) as refused:
        moderate(event, second, "pin")
    assert refused.value.code == "dismissed"
    assert not Question.objects.filter(pk=second.pk, on_screen=True).exists()


def test_staff_cannot_moderate_another_events_question(event):
    other = QuestionFactory()
    with pytest.raises(Question.DoesNotExist):
        moderate(event, other, "approve")
    other.refresh_from_db()
    assert other.status == QuestionStatus.PENDING


def test_the_page_reads_questions_masked_when_the_campaign_filters_profanity(event):
    question = QuestionFactory(event=event, status=QuestionStatus.APPROVED, text="What the hell?")
    assert selectors.room_state(event_id=event.pk)["questions"][0]["text"] == "What the ****?"
    staff = selectors.staff_room(event_id=event.pk, mask=True)
    assert (staff.shown[0].text, staff.shown[0].masked) == ("What the hell?", True)
    event.campaign.ticker_profanity_filter = False
    event.campaign.save()
    assert selectors.room_state(event_id=event.pk)["questions"][0]["text"] == "What the hell?"
    assert question.text == "What the hell?"


def test_the_page_lists_the_most_upvoted_and_the_newest(event):
    voted = [QuestionFactory(event=event, status=QuestionStatus.APPROVED) for _ in range(6)]
    for n, question in enumerate(voted):
        for voter in range(n + 1):
            QuestionVote.objects.create(question=question, voter=f"{voter:032d}")
    fresh = [QuestionFactory(event=event, status=QuestionStatus.APPROVED) for _ in range(4)]
    listed = [q["id"] for q in selectors.room_state(event_id=event.pk)["questions"]]
    assert listed == [q.pk for q in reversed(voted[1:])] + [q.pk for q in reversed(fresh[1:])]


def test_the_rooms_state_takes_six_queries(event, django_assert_num_queries):
    QuestionFactory.create_batch(3, event=event, status=QuestionStatus.APPROVED)
    open_poll(event)
    with django_assert_num_queries(6):
        selectors.room_state(event_id=event.pk)
