"""GET /events/<slug>/tally.json: the live snapshot over HTTP, cacheable for a second."""

import json
import time

from events.models import EventStatus
from tests.donations.factories import DonationFactory
from tests.factories import EventFactory
from tests.support import wait_for
from tests.support.stripe import receive, succeeded


def test_it_serves_the_snapshot_with_cache_headers_and_an_etag(client, live_redis):
    event = EventFactory(status=EventStatus.LIVE, goal_minor=3_000_000)
    before_ms = time.time_ns() // 1_000_000
    response = client.get(f"/events/{event.slug}/tally.json")
    version = json.loads(response.content)["version"]
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=1, stale-while-revalidate=5"
    assert response["ETag"] == f'"{version}"'
    # Versions start at Redis's clock (ms), so they keep increasing after Redis loses its data.
    assert before_ms - 1_000 <= version <= before_ms + 60_000
    assert json.loads(response.content) == {
        "version": version,
        "status": "live",
        "currency": "usd",
        "goal": 3_000_000,
        "raised": 0,
        "donors": 0,
        "donations": 0,
        "viewers": 0,
        "capacity": event.capacity_tier.max_attendees,
        "recent": [],
        "matched": 0,
        "match": None,
        "milestones": [],
        "stream": "none",
        "replay": False,
        "room": {"asking": True, "on_screen": None, "questions": [], "poll": None, "ask": None},
    }


def test_it_answers_304_without_a_body_when_the_etag_matches(client, live_redis):
    event = EventFactory(status=EventStatus.LIVE)
    etag = client.get(f"/events/{event.slug}/tally.json")["ETag"]
    response = client.get(f"/events/{event.slug}/tally.json", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "public, max-age=1, stale-while-revalidate=5"


def test_it_answers_200_when_the_etag_is_stale(client, live_redis):
    event = EventFactory(status=EventStatus.LIVE)
    response = client.get(f"/events/{event.slug}/tally.json", HTTP_IF_NONE_MATCH='"1"')
    assert response.status_code == 200
    assert response["ETag"] == f'"{json.loads(response.content)["version"]}"'
    assert response["ETag"] != '"1"'


def test_it_is_a_404_for_a_draft_event(client, live_redis):
    event = EventFactory(status=EventStatus.DRAFT)
    response = client.get(f"/events/{event.slug}/tally.json")
    assert response.status_code == 404


def test_it_follows_the_ledger_when_no_web_process_runs_a_hub_for_the_event(client, live_redis):
    # Nobody watches the event (no hub has it): gifts applied since the last snapshot still
    # show (at once, or within the publisher interval a hub that heard of the change takes),
    # and the rebuilt snapshot is stored for everyone (newer version).
    event = EventFactory(status=EventStatus.LIVE)
    first = json.loads(client.get(f"/events/{event.slug}/tally.json").content)
    donation = DonationFactory(event=event, gift_minor=4_200)
    receive(succeeded(donation))

    def fresh():
        found = json.loads(client.get(f"/events/{event.slug}/tally.json").content)
        return found if found["raised"] == 4_200 else None

    second = wait_for(fresh, 5, what="tally.json at the ledger's figure")
    assert first["raised"] == 0
    assert second["version"] > first["version"]
    assert (
        live_redis.get(f"pc:live:{{{event.pk}}}:snap").decode().startswith(f"{second['version']}|")
    )
    # Nothing changed since: the stored snapshot is served as is.
    assert json.loads(client.get(f"/events/{event.slug}/tally.json").content) == second
