from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from events.models import EventStatus
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_the_home_page_lists_live_and_upcoming_public_events(client):
    live = EventFactory(title="Live rally", status=EventStatus.LIVE)
    soon = EventFactory(title="Tomorrow's call", status=EventStatus.SCHEDULED)
    EventFactory(title="Secret draft")
    EventFactory(title="Unlisted donor call", status=EventStatus.SCHEDULED, visibility="unlisted")
    EventFactory(title="Called off", status=EventStatus.CANCELLED)
    past_start = timezone.now() - timedelta(days=3)
    EventFactory(
        title="Last week",
        status=EventStatus.ENDED,
        starts_at=past_start,
        ends_at=past_start + timedelta(hours=2),
    )
    response = client.get("/")
    assert response.status_code == 200
    assert response.context["live_events"] == [live]
    assert response.context["upcoming_events"] == [soon]
    html = response.content.decode()
    for hidden in ("Secret draft", "Unlisted donor call", "Called off", "Last week"):
        assert hidden not in html


def test_a_draft_event_page_is_not_found(client):
    event = EventFactory(status=EventStatus.DRAFT)
    assert client.get(event.get_absolute_url()).status_code == 404


def test_an_unknown_event_page_is_not_found(client):
    response = client.get("/events/no-such-event/")
    assert response.status_code == 404
    assert "We can't find that page" in response.content.decode()


def test_an_unlisted_event_is_reachable_by_its_link_but_not_indexed(client):
    event = EventFactory(status=EventStatus.SCHEDULED, visibility="unlisted", title="Donor call")
    response = client.get(event.get_absolute_url())
    assert response.status_code == 200
    assert response["X-Robots-Tag"] == "noindex"
    assert "Donor call" in response.content.decode()


def test_a_scheduled_event_shows_its_start_time_and_a_countdown(client):
    starts = timezone.now() + timedelta(days=2)
    event = EventFactory(
        status=EventStatus.SCHEDULED,
        title="Town hall",
        description="Bring questions.",
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
    )
    response = client.get(event.get_absolute_url())
    html = response.content.decode()
    assert "<h1>Town hall</h1>" in html
    assert "Bring questions." in html
    # The start in UTC for the page and machines; localtime.js rewrites it in the viewer's zone.
    iso = starts.astimezone(UTC).isoformat()
    assert f'data-countdown="{iso}"' in html
    assert f'<time class="local-time" datetime="{iso}">' in html
    assert 'id="event-status">Scheduled</span>' in html


def test_a_live_event_page_says_it_is_live(client):
    event = EventFactory(status=EventStatus.LIVE)
    html = client.get(event.get_absolute_url()).content.decode()
    assert 'id="event-status">Live</span>' in html
    assert "data-countdown" not in html


def test_the_event_page_writes_the_description_as_text(client):
    event = EventFactory(status=EventStatus.LIVE, description="<script>alert(1)</script>")
    html = client.get(event.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
