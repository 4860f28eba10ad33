import pytest

from events import services
from events.models import EventStatus, InvalidTransition
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_it_walks_the_whole_lifecycle():
    event = EventFactory()
    assert services.schedule_event(event_id=event.pk).status == EventStatus.SCHEDULED
    live = services.start_event(event_id=event.pk)
    assert live.status == EventStatus.LIVE
    assert live.went_live_at is not None
    ended = services.end_event(event_id=event.pk)
    assert ended.status == EventStatus.ENDED
    assert ended.ended_at is not None


def test_it_refuses_to_go_live_from_draft_with_a_reason():
    event = EventFactory(title="Town hall")
    with pytest.raises(InvalidTransition) as exc:
        services.start_event(event_id=event.pk)
    assert exc.value.messages == [
        "“Town hall” cannot become live while draft: schedule it first."
    ]
    event.refresh_from_db()
    assert event.status == EventStatus.DRAFT
    assert event.went_live_at is None
