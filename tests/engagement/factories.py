"""factory_boy factories for the engagement app."""

from __future__ import annotations

import factory

from engagement import polls
from engagement.models import Question, QuestionStatus
from events.models import EventStatus
from tests.factories import EventFactory


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    event = factory.SubFactory(EventFactory, status=EventStatus.LIVE)
    text = factory.Sequence(lambda n: f"Question number {n}?")
    asker = factory.Sequence(lambda n: f"{n:032x}")
    status = QuestionStatus.PENDING


def open_poll(event, question: str = "Which issue first?", options=("Rent", "Jobs", "Parks")):
    """A poll of `event` opened for every viewer (through the services, as staff do)."""
    poll = polls.create_poll(
        event_id=event.pk, question=question, options=list(options), by_user_id=None
    )
    return polls.run_poll(event_id=event.pk, poll_id=poll.pk, action="open", by_user_id=None)
