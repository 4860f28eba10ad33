"""factory_boy factories for the engagement app."""

from __future__ import annotations

import factory

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
