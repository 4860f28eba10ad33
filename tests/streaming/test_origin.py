"""The origin's answers (`/live/<public_id>/…`): content types, cache lifetimes, CORS, ETag,
Range, and what is not published."""

from __future__ import annotations

import pytest

from events.models import EventStatus
from streaming import selectors, services
from streaming.models import Stream
from tests.support import player_config
from tests.support.streaming import deliver

pytestmark = pytest.mark.django_db


def get(client, stream: Stream, path: str, **headers):
    return client.get(f"/live/{stream.public_id}/{path}", **headers)


def test_a_live_media_playlist_is_cached_for_half_a_target_duration(client, live_stream):
    response = get(client, live_stream, "v/index.m3u8")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    # Half of 1 s, at least 1 s; stale for a target duration at most while refreshed, three
    # while the origin fails.
    assert response["Cache-Control"] == (
        "public, max-age=1, stale-while-revalidate=1, stale-if-error=3"
    )


def test_the_master_playlist_is_cached_briefly(client, live_stream):
    response = get(client, live_stream, "master.m3u8")
    assert (response.status_code, response["Cache-Control"]) == (
        200, "public, max-age=1, stale-while-revalidate=1, stale-if-error=3"
    )  # fmt: skip


def test_a_segment_is_immutable_and_cached_for_a_year(client, live_stream):
    response = get(client, live_stream, "v/1.ts")
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp2t"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Accept-Ranges"] == "bytes"
    assert response.content == b"\x47" * 376


def test_every_answer_allows_players_on_other_origins(client, live_stream):
    for path in ("master.m3u8", "v/index.m3u8", "v/0.ts", "v/9.ts"):
        assert get(client, live_stream, path)["Access-Control-Allow-Origin"] == "*"


def test_a_cors_preflight_allows_range_requests(client, live_stream):
    response = client.options(f"/live/{live_stream.public_id}/v/0.ts")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Headers"] == "Range"
    assert response["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"


def test_an_unchanged_playlist_answers_304_to_its_etag(client, live_stream):
    etag = get(client, live_stream, "v/index.m3u8")["ETag"]
    response = get(client, live_stream, "v/index.m3u8", HTTP_IF_NONE_MATCH=etag)
    assert (response.status_code, response.content, response["ETag"]) == (304, b"", etag)


def test_a_changed_playlist_has_a_new_etag(client, live_stream):
    etag = get(client, live_stream, "v/index.m3u8")["ETag"]
    deliver(live_stream, 2, 1)
    response = get(client, live_stream, "v/index.m3u8", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_a_range_of_a_segment_answers_206(client, live_stream):
    response = get(client, live_stream, "v/1.ts", HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Range"] == "bytes 10-19/376"
    assert response.content == b"\x47" * 10


def test_a_suffix_range_answers_the_last_bytes(client, live_stream):
    response = get(client, live_stream, "v/1.ts", HTTP_RANGE="bytes=-6")
    assert (response.status_code, response["Content-Range"]) == (206, "bytes 370-375/376")


def test_an_unsatisfiable_range_answers_416(client, live_stream):
    response = get(client, live_stream, "v/1.ts", HTTP_RANGE="bytes=400-")
    assert (response.status_code, response["Content-Range"]) == (416, "bytes */376")


@pytest.mark.parametrize("path", ["v/7.ts", "v/index.m3u8x", "../../x.ts", "v/../v/0.ts"])
def test_anything_not_published_is_404_and_not_cacheable(client, live_stream, path):
    response = get(client, live_stream, path)
    assert response.status_code == 404
    assert response["Cache-Control"] == "no-store"


def test_a_stream_that_never_went_live_serves_nothing(client, stream):
    response = get(client, stream, "master.m3u8")
    # Before the show, only the staff's signed preview URL is served.
    assert (response.status_code, response["Cache-Control"]) == (403, "no-store")
    stream.event.status = EventStatus.LIVE
    stream.event.save(update_fields=["status"])
    response = get(client, stream, "master.m3u8")
    assert (response.status_code, response["Cache-Control"]) == (404, "no-store")


def test_the_replay_is_served_as_vod_with_a_longer_lifetime(client, live_stream):
    deliver(live_stream, 2, 2)  # the show, after the practice
    services.end_stream(stream_id=live_stream.pk)
    response = get(client, live_stream, "v/replay.m3u8")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=3600"


def test_the_event_page_shows_the_live_player(client, live_stream):
    page = client.get(live_stream.event.get_absolute_url()).content.decode()
    config = player_config(page)
    assert (config["state"], config["master_url"]) == (
        "live", f"/live/{live_stream.public_id}/master.m3u8"
    )  # fmt: skip


def test_the_event_page_shows_the_replay_after_the_end(client, live_stream):
    services.end_stream(stream_id=live_stream.pk)
    page = client.get(live_stream.event.get_absolute_url()).content.decode()
    config = player_config(page)
    assert (config["state"], config["replay_url"]) == (
        "ended", f"/live/{live_stream.public_id}/replay.m3u8"
    )  # fmt: skip
    assert "Watch the replay" in page


def test_the_event_state_selector_names_the_urls_the_page_needs(live_stream):
    view = selectors.event_stream_state(event_id=live_stream.event_id)
    assert (view.state, view.master_url, view.replay_url) == (
        "live", f"/live/{live_stream.public_id}/master.m3u8", None,
    )  # fmt: skip


def test_an_event_without_a_stream_has_state_none(scheduled_event):
    assert selectors.event_stream_state(event_id=scheduled_event.pk).state == "none"
