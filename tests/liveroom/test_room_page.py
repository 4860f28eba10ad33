"""The event page's room panel starts from what this browser's participant already did, and
says why a browser cannot take part."""

from __future__ import annotations

import json
import re

import pytest

from engagement import services
from engagement.models import QuestionStatus
from events import selectors as event_selectors
from events.models import EventStatus, Registration
from liveroom import attendees
from tests.engagement.factories import QuestionFactory
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def room_config(html: str) -> dict | None:
    found = re.search(r'<script id="room-config" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1)) if found else None


def test_a_first_visit_gets_its_attendee_cookie_and_may_take_part_at_once(client, event):
    response = client.get(event.get_absolute_url())
    config = room_config(response.content.decode())
    assert config == {
        "may_take_part": True,
        "reason": "",
        "mine": {"upvoted": [], "voted": {}},
        "question_max_chars": 280,
        "reactions": [
            {"name": "heart", "emoji": "❤️", "label": "Heart"},
            {"name": "clap", "emoji": "👏", "label": "Applause"},
            {"name": "fire", "emoji": "🔥", "label": "Fire"},
            {"name": "tada", "emoji": "🎉", "label": "Celebrate"},
            {"name": "laugh", "emoji": "😂", "label": "Laugh"},
        ],
        "reaction_max": 10,
    }
    assert attendees.attendee_from_cookie(response.cookies[attendees.COOKIE].value)


def test_a_returning_attendee_sees_the_questions_it_upvoted(client, event):
    client.get(event.get_absolute_url())  # the attendee cookie
    cookie = client.cookies[attendees.COOKIE].value
    participant, _ = attendees.participant(
        {attendees.COOKIE: cookie}, event_id=event.pk, registration_required=False
    )
    question = QuestionFactory(event=event, status=QuestionStatus.APPROVED)
    services.upvote_question(event_id=event.pk, question_id=question.pk, voter=participant)

    response = client.get(event.get_absolute_url())

    assert room_config(response.content.decode())["mine"] == {"upvoted": [question.pk], "voted": {}}
    assert attendees.COOKIE not in response.cookies  # kept, not replaced


def test_an_event_that_asks_for_registration_says_so_until_the_attendee_registers(client):
    event = EventFactory(status=EventStatus.LIVE, registration_required=True)
    config = room_config(client.get(event.get_absolute_url()).content.decode())
    assert config["may_take_part"] is False
    assert config["reason"] == "Register for this event to ask questions and vote."

    registration = Registration.objects.create(
        event=event, name="Ada", email="ada@example.org", token="r" * 43
    )
    client.cookies[event_selectors.registration_cookie_name(event=event)] = (
        event_selectors.registration_cookie_signer(event=event).sign(registration.token)
    )
    config = room_config(client.get(event.get_absolute_url()).content.decode())
    assert (config["may_take_part"], config["reason"]) == (True, "")


@pytest.mark.parametrize("status", [EventStatus.ENDED, EventStatus.CANCELLED])
def test_the_room_is_not_on_the_page_after_the_show(client, status):
    event = EventFactory(status=status)
    html = client.get(event.get_absolute_url()).content.decode()
    assert room_config(html) is None
    assert "data-room" not in html
