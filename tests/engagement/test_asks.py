"""Asks: prepared with a text, an amount and a tag; one pinned for every viewer at a time."""

import pytest

from engagement import asks, selectors
from engagement.models import Ask
from engagement.services import Refused
from tests.factories import EventFactory

TAG_RULE = "A tag is up to 40 lower-case letters, digits and hyphens (like ask-27-9pm)."


def make(event, text="Give $27 now", amount=2_700, tag=""):
    return asks.create_ask(event_id=event.pk, text=text, amount_minor=amount, tag=tag, by_user_id=1)


def run(event, ask, action):
    return asks.run_ask(event_id=event.pk, ask_id=ask.pk, action=action, by_user_id=1)


@pytest.mark.parametrize(
    ("text", "amount", "tag", "words"),
    [
        (" ", 2_700, "", "Type what the ask says."),
        ("x" * 141, 2_700, "", "Keep the ask to 140 characters (it has 141)."),
        ("Give", 99, "", "An ask's amount is from 1 to 100,000."),
        ("Give", 10_000_001, "", "An ask's amount is from 1 to 100,000."),
        ("Give", 2_700, "Ask 27!", TAG_RULE),
    ],
)
def test_a_bad_ask_is_refused_with_the_reason_and_nothing_is_stored(
    event, text, amount, tag, words
):
    with pytest.raises(Refused) as refused:
        make(event, text=text, amount=amount, tag=tag)
    assert refused.value.message == words
    assert not Ask.objects.exists()


def test_asks_are_tagged_in_order_unless_staff_name_them_and_a_tag_is_used_once(event):
    assert [make(event).tag, make(event, tag="Ask-27-9PM").tag, make(event).tag] == [
        "ask-1", "ask-27-9pm", "ask-3",
    ]  # fmt: skip
    with pytest.raises(Refused) as refused:
        make(event, tag="ask-1")
    assert refused.value.message == "This event already has an ask tagged “ask-1”."
    assert Ask.objects.count() == 3


def test_one_ask_is_pinned_for_every_viewer_at_a_time(event):
    first, second = make(event, text="First"), make(event, text="Second", amount=5_000)
    assert selectors.room_state(event_id=event.pk)["ask"] is None
    run(event, first, "pin")
    run(event, second, "pin")
    assert selectors.room_state(event_id=event.pk)["ask"] == {
        "id": second.pk, "text": "Second", "amount": 5_000, "tag": second.tag,
    }  # fmt: skip
    first.refresh_from_db()
    assert (first.pinned, first.unpinned_at is not None) == (False, True)
    run(event, second, "unpin")
    assert selectors.room_state(event_id=event.pk)["ask"] is None


def test_staff_cannot_pin_another_events_ask(event):
    other = make(EventFactory())
    with pytest.raises(Ask.DoesNotExist):
        run(event, other, "pin")
    assert not Ask.objects.filter(pinned=True).exists()
