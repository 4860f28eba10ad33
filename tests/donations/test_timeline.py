"""The ledger on the report's timeline (donations/timeline.py): counted money, gifts and
distinct donors per minute and in windows after moments, refunds subtracting; the asks'
tags that raised the most."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from donations import timeline
from tests.support.ledger import give, refund

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)
MINUTE = int(T0.timestamp() // 60)


def test_money_per_minute_is_net_of_refunds_with_distinct_donors(live_event):
    give(live_event, amount=10_000, email="ada@example.com", at=T0 + timedelta(seconds=1))
    give(live_event, amount=5_000, email="ada@example.com", at=T0 + timedelta(seconds=59))
    partly = give(live_event, amount=4_000, email="bob@example.com", at=T0 + timedelta(minutes=1))
    gone = give(live_event, amount=3_000, email="cy@example.com", at=T0 + timedelta(minutes=1))
    give(live_event, amount=9_900, at=T0 + timedelta(minutes=3))  # after the end
    refund(partly, 1_500)
    refund(gone, 3_000)

    found = timeline.event_money_per_minute(
        event_id=live_event.pk, start=T0, end=T0 + timedelta(minutes=3)
    )

    assert found == {
        MINUTE: timeline.MinuteMoney(MINUTE, raised_minor=15_000, donations=2, donors=1),
        MINUTE + 1: timeline.MinuteMoney(MINUTE + 1, raised_minor=2_500, donations=1, donors=1),
    }


def test_windows_may_overlap_and_end_before_their_end(live_event):
    give(live_event, amount=1_000, at=T0)
    give(live_event, amount=2_000, at=T0 + timedelta(minutes=4, seconds=59))
    give(live_event, amount=4_000, at=T0 + timedelta(minutes=5))  # the first window's end
    refunded = give(live_event, amount=8_000, at=T0 + timedelta(minutes=6))
    refund(refunded, 2_000)

    first, second, empty = timeline.event_money_in_windows(
        event_id=live_event.pk,
        windows=[
            (T0, T0 + timedelta(minutes=5)),
            (T0 + timedelta(minutes=2), T0 + timedelta(minutes=7)),
            (T0 - timedelta(hours=1), T0 - timedelta(minutes=55)),
        ],
    )

    assert first == timeline.WindowMoney(raised_minor=3_000, donations=2, donors=2)
    assert second == timeline.WindowMoney(raised_minor=12_000, donations=3, donors=3)
    assert empty == timeline.WindowMoney(raised_minor=0, donations=0, donors=0)


def test_more_windows_than_one_query_holds_are_all_answered(live_event, django_assert_num_queries):
    give(live_event, amount=1_000, at=T0)
    windows = [(T0 - timedelta(seconds=n), T0 + timedelta(seconds=1)) for n in range(150)]
    with django_assert_num_queries(2):
        found = timeline.event_money_in_windows(event_id=live_event.pk, windows=windows)
    assert [w.raised_minor for w in found] == [1_000] * 150


def test_the_asks_that_raised_most_come_first_without_untagged_gifts(live_event):
    give(live_event, amount=2_700, ask_tag="ask-1")
    give(live_event, amount=2_700, ask_tag="ask-1")
    give(live_event, amount=10_000, ask_tag="ask-2")
    refund(give(live_event, amount=50_000, ask_tag="ask-3"), 50_000)
    give(live_event, amount=99_000)

    found = timeline.event_top_ask_tags(event_id=live_event.pk, limit=5)

    assert found == [
        timeline.AskTotal(tag="ask-2", raised_minor=10_000, donations=1),
        timeline.AskTotal(tag="ask-1", raised_minor=5_400, donations=2),
    ]
