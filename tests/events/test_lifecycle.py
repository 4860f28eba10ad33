import pytest
from django.utils import timezone

from events import services
from events.models import EventStatus, InvalidTransition, ViewerSample
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

S = EventStatus
SERVICE_FOR = {
    S.SCHEDULED: services.schedule_event,
    S.BACKSTAGE: services.enter_backstage,
    S.LIVE: services.start_event,
    S.ENDED: services.end_event,
    S.CANCELLED: services.cancel_event,
}
LEGAL = {
    (S.DRAFT, S.SCHEDULED),
    (S.DRAFT, S.CANCELLED),
    (S.SCHEDULED, S.BACKSTAGE),  # video arrived: the green room
    (S.SCHEDULED, S.LIVE),
    (S.SCHEDULED, S.CANCELLED),
    (S.BACKSTAGE, S.LIVE),  # "Go live"
    (S.BACKSTAGE, S.CANCELLED),
    (S.LIVE, S.ENDED),
    (S.ENDED, S.LIVE),  # "Resume show" (streaming.show holds its time limit)
}
ALL_PAIRS = [(a, b) for a in S for b in SERVICE_FOR]


def test_it_walks_the_whole_lifecycle():
    event = EventFactory()
    assert services.schedule_event(event_id=event.pk).status == S.SCHEDULED
    live = services.start_event(event_id=event.pk)
    assert live.status == S.LIVE
    assert live.went_live_at is not None
    ended = services.end_event(event_id=event.pk)
    assert ended.status == S.ENDED
    assert ended.ended_at is not None


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_it_allows_each_legal_transition(current, target):
    event = EventFactory(status=current)
    assert SERVICE_FOR[target](event_id=event.pk).status == target
    event.refresh_from_db()
    assert event.status == target


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_it_refuses_each_illegal_transition_and_changes_nothing(current, target):
    event = EventFactory(status=current)
    before = event.updated_at
    with pytest.raises(InvalidTransition) as exc:
        SERVICE_FOR[target](event_id=event.pk)
    assert "cannot become" in exc.value.messages[0]
    event.refresh_from_db()
    assert event.status == current
    assert event.updated_at == before
    assert event.went_live_at is None
    assert event.ended_at is None


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        (S.DRAFT, S.LIVE, "“Town hall” cannot become live while draft: schedule it first."),
        (
            S.SCHEDULED,
            S.ENDED,
            "“Town hall” cannot become ended while scheduled: "
            "it never went live; cancel it instead.",
        ),
        (
            S.LIVE,
            S.CANCELLED,
            "“Town hall” cannot become cancelled while live: it is live; end it instead.",
        ),
        (S.CANCELLED, S.LIVE, "“Town hall” cannot become live while cancelled: it is over."),
        (
            S.BACKSTAGE,
            S.ENDED,
            "“Town hall” cannot become ended while backstage: "
            "it never went live; cancel it instead.",
        ),
        (
            S.SCHEDULED,
            S.SCHEDULED,
            "“Town hall” cannot become scheduled while scheduled: it is already scheduled.",
        ),
    ],
)
def test_it_explains_why_a_transition_is_refused(current, target, message):
    event = EventFactory(title="Town hall", status=current)
    with pytest.raises(InvalidTransition) as exc:
        SERVICE_FOR[target](event_id=event.pk)
    assert exc.value.messages == [message]


def test_a_viewer_sample_of_an_event_deleted_meanwhile_is_skipped_without_an_error(
    transactional_db,
):
    # Transactional: the foreign key is checked when the sample commits, as in production.
    event = EventFactory()
    gone = event.pk
    event.delete()
    services.record_viewer_sample(event_id=gone, at=timezone.now(), viewers=3)
    assert ViewerSample.objects.count() == 0
