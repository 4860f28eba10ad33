"""Moments of the show: recorded once per (event, source key), marked by staff with a checked
label, recorded by pinning an ask and opening a poll; the report's reads (moments, questions
per minute) and the reactions kept in the database once the show has ended."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from engagement import asks, moments, reactions
from engagement import selectors as engagement_selectors
from engagement.models import Moment, MomentKind, Question, ReactionMinute
from engagement.services import Refused
from events.models import EventStatus
from tests.engagement.factories import QuestionFactory, open_poll
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)


def test_a_moment_with_a_source_key_is_recorded_once(event):
    first = moments.record_moment(
        event_id=event.pk, kind="milestone", label="Half way: $50,000", at=T0, source_key="m-50"
    )
    again = moments.record_moment(
        event_id=event.pk, kind="milestone", label="Another label", at=T0 + timedelta(minutes=3),
        source_key="m-50",
    )  # fmt: skip
    assert again.pk == first.pk
    assert list(Moment.objects.values_list("label", "at")) == [("Half way: $50,000", T0)]


def test_the_same_key_on_another_event_is_another_moment(event):
    other = EventFactory(campaign=event.campaign)
    for e in (event, other):
        moments.record_moment(event_id=e.pk, kind="other", label="Doors open", source_key="k1")
    assert Moment.objects.count() == 2


@pytest.mark.parametrize(
    ("kind", "label", "code"),
    [
        ("speaker", "   ", "empty"),
        ("speaker", "x" * 121, "too_long"),
        ("speaker", "Jane\x07Doe", "bad_text"),
        ("dance", "Jane Doe", "kind"),
    ],
)
def test_a_bad_moment_is_refused_and_nothing_is_stored(event, kind, label, code):
    with pytest.raises(Refused) as refused:
        moments.record_moment(event_id=event.pk, kind=kind, label=label)
    assert refused.value.code == code
    assert not Moment.objects.exists()


def test_the_label_too_long_message_says_the_limit_and_the_length(event):
    with pytest.raises(Refused) as refused:
        moments.mark_moment(
            event_id=event.pk, kind="speaker", label="y" * 130, form_key="", by_user_id=None
        )
    assert refused.value.message == "Keep the moment's label to 120 characters (it has 130)."


def test_staff_pressing_twice_with_the_same_form_key_mark_one_moment(event):
    for _ in range(2):
        moment = moments.mark_moment(
            event_id=event.pk, kind="speaker", label="  Jane   Doe ", form_key="k" * 22,
            by_user_id=None,
        )  # fmt: skip
    assert moment.title == "Speaker: Jane Doe"
    assert Moment.objects.count() == 1


def test_staff_cannot_mark_a_milestone_by_hand(event):
    with pytest.raises(Refused) as refused:
        moments.mark_moment(
            event_id=event.pk, kind="milestone", label="$1M", form_key="", by_user_id=None
        )
    assert refused.value.code == "kind"
    assert not Moment.objects.exists()


def test_pinning_an_ask_and_opening_a_poll_record_their_moments(live_event):
    ask = asks.create_ask(
        event_id=live_event.pk, text="Give $27 now", amount_minor=2_700, by_user_id=None
    )
    asks.run_ask(event_id=live_event.pk, ask_id=ask.pk, action="pin", by_user_id=None)
    asks.run_ask(event_id=live_event.pk, ask_id=ask.pk, action="pin", by_user_id=None)  # no-op
    open_poll(live_event, question="Which issue first?")
    found = engagement_selectors.event_moments(event_id=live_event.pk)
    assert [(m.kind, m.title) for m in found] == [
        (MomentKind.ASK, "Ask: Give $27 now"),
        (MomentKind.POLL, "Poll: Which issue first?"),
    ]


def test_a_long_polls_moment_is_cut_to_the_labels_length(live_event):
    open_poll(live_event, question="Which " + "very " * 30 + "long question?")
    (moment,) = Moment.objects.all()
    assert len(moment.label) == 120
    assert moment.label.startswith("Which very very")
    assert moment.label.endswith("…")


def test_a_moments_label_from_another_text_leaves_control_characters_out():
    assert moments.label_of("Give\x07 now\x00") == "Give now"


def test_a_staff_label_too_long_is_refused_even_with_a_form_key(event):
    with pytest.raises(Refused) as refused:
        moments.mark_moment(
            event_id=event.pk, kind="speaker", label="z" * 121, form_key="k" * 22, by_user_id=None
        )
    assert refused.value.code == "too_long"
    assert not Moment.objects.exists()


def test_questions_are_counted_per_minute_in_the_window(live_event):
    for at in (T0 + timedelta(seconds=5), T0 + timedelta(seconds=59), T0 + timedelta(minutes=2)):
        question = QuestionFactory(event=live_event)
        Question.objects.filter(pk=question.pk).update(created_at=at)
    QuestionFactory(event=live_event)  # now: outside the window
    counts = engagement_selectors.questions_per_minute(
        event_id=live_event.pk, start=T0, end=T0 + timedelta(minutes=3)
    )
    minute = int(T0.timestamp() // 60)
    assert counts == {minute: 2, minute + 2: 1}


def test_an_ended_shows_reactions_are_kept_in_the_database(live_redis):
    now = time.time()
    minute = reactions.minute_of(now)
    event = EventFactory(
        status=EventStatus.ENDED,
        went_live_at=datetime.fromtimestamp((minute - 3) * 60, tz=UTC),
        ended_at=datetime.fromtimestamp(now, tz=UTC),
    )
    pipe = live_redis.pipeline()
    reactions.add_count_commands(pipe, event_id=event.pk, counts={"heart": 3}, minute=minute - 2)
    reactions.add_count_commands(
        pipe, event_id=event.pk, counts={"clap": 1, "fire": 4}, minute=minute
    )
    pipe.execute()

    assert reactions.snapshot_ended_shows(now=datetime.fromtimestamp(now, tz=UTC)) == 1
    assert reactions.snapshot_ended_shows(now=datetime.fromtimestamp(now, tz=UTC)) == 1  # upsert
    assert ReactionMinute.objects.filter(event=event).count() == 2
    live_redis.delete(*(reactions.minute_key(event.pk, m) for m in (minute - 2, minute)))

    totals, live = reactions.reaction_minutes(
        event_id=event.pk, minutes=range(minute - 3, minute + 1)
    )
    assert (totals, live) == ({minute - 2: 3, minute: 5}, True)
