"""Milestones: crossed once when the committed tally first reaches them (a refund that dips
below and a later gift that climbs back celebrate nothing again; concurrent checks record one
crossing), and staff's bad input refused with a sentence, nothing saved."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from donations import milestones
from donations.models import Milestone
from donations.selectors import milestone_crossings
from tests.donations.goals import give, refund
from tests.factories import EventFactory


@pytest.fixture(autouse=True)
def _simulated(simulated_settings):
    """Gifts paid and refunded through the simulated provider."""


@pytest.fixture
def goal_event():
    return EventFactory(status="live", goal_minor=100_000)  # a $1,000 goal


def test_a_milestone_is_crossed_once_even_after_a_refund_and_a_second_climb(goal_event):
    milestones.save_milestone(event_id=goal_event.pk, amount_minor=10_000, percent=None)
    give(goal_event, 6_000)
    assert milestone_crossings(event_id=goal_event.pk) == []

    second = give(goal_event, 5_000)
    [crossing] = milestone_crossings(event_id=goal_event.pk)
    assert (crossing.label, crossing.amount_minor) == ("$100 raised", 10_000)

    refund(second)  # $60: below again
    give(goal_event, 7_000)  # $130: above again
    assert milestone_crossings(event_id=goal_event.pk) == [crossing]


def test_a_percent_milestone_reads_the_goal_and_one_gift_may_cross_several(goal_event):
    milestones.save_milestone(event_id=goal_event.pk, amount_minor=None, percent=50)
    milestones.save_milestone(event_id=goal_event.pk, amount_minor=20_000, percent=None)
    milestones.save_milestone(event_id=goal_event.pk, amount_minor=None, percent=100)
    give(goal_event, 49_999)
    assert [c.label for c in milestone_crossings(event_id=goal_event.pk)] == ["$200 raised"]

    give(goal_event, 1)
    assert [c.label for c in milestone_crossings(event_id=goal_event.pk)] == [
        "$200 raised",
        "50% of the goal ($500)",
    ]


def test_a_milestone_added_below_the_tally_is_crossed_at_once(goal_event):
    give(goal_event, 30_000)
    milestones.save_milestone(event_id=goal_event.pk, amount_minor=25_000, percent=None)
    assert [c.label for c in milestone_crossings(event_id=goal_event.pk)] == ["$250 raised"]


def test_concurrent_checks_record_one_crossing(goal_event):
    """Every web process's check after a commit races for the row: one wins it."""
    checkers = 8
    milestones.save_milestone(event_id=goal_event.pk, amount_minor=10_000, percent=None)
    give(goal_event, 20_000)
    Milestone.objects.update(crossed_at=None)  # as if no check had run yet
    barrier = threading.Barrier(checkers)
    results: list[list[int]] = []

    def check() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(milestones.record_crossings(event_id=goal_event.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(checkers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(len(r) for r in results) == [0] * (checkers - 1) + [1]
    assert len(milestone_crossings(event_id=goal_event.pk)) == 1


@pytest.mark.parametrize(
    ("amount_minor", "percent", "field", "message"),
    [
        (100_001, None, "amount_minor", "This is above the goal ($1,000): raise the goal first."),
        (None, 101, "percent", "A percent of the goal is from 1 to 100."),
        (None, 0, "percent", "A percent of the goal is from 1 to 100."),
        (None, None, "amount_minor", "Give an amount or a percent of the goal (one of the two)."),
        (5_000, 5, "amount_minor", "Give an amount or a percent of the goal (one of the two)."),
        # 50% of $1,000 is the milestone already there.
        (None, 50, "percent", "The event already has a milestone at $500."),
    ],
)
def test_bad_milestones_are_refused_with_a_sentence(
    goal_event, amount_minor, percent, field, message
):
    milestones.save_milestone(event_id=goal_event.pk, amount_minor=50_000, percent=None)
    with pytest.raises(ValidationError) as refused:
        milestones.save_milestone(
            event_id=goal_event.pk, amount_minor=amount_minor, percent=percent
        )
    assert refused.value.message_dict == {field: [message]}
    assert list(Milestone.objects.values_list("amount_minor", "percent")) == [(50_000, None)]


def test_a_celebrated_milestone_is_not_changed(goal_event):
    milestone = milestones.save_milestone(event_id=goal_event.pk, amount_minor=100, percent=None)
    give(goal_event, 500)
    with pytest.raises(ValidationError, match="already celebrated"):
        milestones.save_milestone(
            event_id=goal_event.pk, amount_minor=200, percent=None, milestone_id=milestone.pk
        )
    assert Milestone.objects.get().amount_minor == 100
