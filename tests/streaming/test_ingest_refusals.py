"""What the ingest refuses, through the real uvicorn process: the request line is sent as
written (no client-side normalisation), and each refusal is checked to have written nothing."""

from __future__ import annotations

import pytest

from events.models import EventStatus
from streaming import services
from tests.factories import EventFactory
from tests.support.streaming import MAX_OBJECT_BYTES, stored_files, temp_files

# What an encoder hears once the show ended (and said no more video).
ENDED = (
    "The show has ended, so this stream takes no more video. Staff can resume the show from "
    "the live dashboard within 60 minutes of its end.\n"
)

pytestmark = pytest.mark.django_db(transaction=True)

SEGMENT = b"\x47" + b"\x00" * 187


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_segment_put_with_the_key_is_stored_in_the_ingest_area(server, stream_and_key):
    stream, key = stream_and_key
    status, _ = server.raw("PUT", f"/streaming/ingest/{stream.public_id}/seg_0.ts",
                           chunks=[SEGMENT, SEGMENT], headers=auth(key))  # fmt: skip
    assert status == 201
    assert stored_files(server.media_root, stream.public_id) == [
        f"ingest/{stream.public_id}/seg_0.ts"
    ]
    assert (server.media_root / f"ingest/{stream.public_id}/seg_0.ts").read_bytes() == SEGMENT * 2


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer ", "Bearer sk_wrong", "Basic c2s6c2s=", "bearer"],
)
def test_a_wrong_or_missing_key_gets_403_and_nothing_is_written(
    server, stream_and_key, authorization
):
    stream, _ = stream_and_key
    headers = {"Authorization": authorization} if authorization else {}
    status, body = server.raw("PUT", f"/streaming/ingest/{stream.public_id}/seg_0.ts",
                              chunks=[SEGMENT], headers=headers)  # fmt: skip
    assert (status, body) == (403, "Wrong or rotated stream key.\n")
    assert stored_files(server.media_root, stream.public_id) == []


def test_a_rotated_key_gets_403_at_once_and_the_new_one_works(server, stream_and_key):
    stream, old_key = stream_and_key
    new_key = services.rotate_stream_key(stream_id=stream.pk)
    path = f"/streaming/ingest/{stream.public_id}/seg_0.ts"
    assert server.raw("PUT", path, body=SEGMENT, headers=auth(old_key)) == (
        403, "Wrong or rotated stream key.\n",
    )  # fmt: skip
    assert stored_files(server.media_root, stream.public_id) == []
    assert server.raw("PUT", path, body=SEGMENT, headers=auth(new_key))[0] == 201


def test_after_accepted_puts_a_rotated_key_gets_403_at_once(server, stream_and_key):
    # The first PUT puts the key in the key cache; rotating must take it out.
    stream, old_key = stream_and_key
    path = f"/streaming/ingest/{stream.public_id}/seg_0.ts"
    assert server.raw("PUT", path, body=SEGMENT, headers=auth(old_key))[0] == 201
    assert server.raw("PUT", path, body=SEGMENT, headers=auth(old_key))[0] == 201
    services.rotate_stream_key(stream_id=stream.pk)
    status, _ = server.raw("PUT", f"/streaming/ingest/{stream.public_id}/seg_1.ts",
                           body=SEGMENT, headers=auth(old_key))  # fmt: skip
    assert status == 403
    assert stored_files(server.media_root, stream.public_id) == [
        f"ingest/{stream.public_id}/seg_0.ts"
    ]


def test_after_accepted_puts_an_ended_stream_refuses_at_once(server, stream_and_key):
    stream, key = stream_and_key
    path = f"/streaming/ingest/{stream.public_id}/seg_0.ts"
    assert server.raw("PUT", path, body=SEGMENT, headers=auth(key))[0] == 201
    services.end_stream(stream_id=stream.pk)
    assert server.raw("PUT", path, body=SEGMENT, headers=auth(key)) == (409, ENDED)


def test_an_unknown_stream_gets_the_same_403(server, stream_and_key):
    _, key = stream_and_key
    status, body = server.raw("PUT", "/streaming/ingest/0123456789abcdef/seg_0.ts",
                              body=SEGMENT, headers=auth(key))  # fmt: skip
    assert (status, body) == (403, "Wrong or rotated stream key.\n")


@pytest.mark.parametrize(
    "name",
    ["../x.ts", "%2e%2e/x.ts", "x.ts/../../y", "..%2fx.ts", "a/b.ts", ".x.ts", "x.TS",
     "x.mp3", "x.m3u8.exe", "x.html", "x", "x.ts%00.m3u8", "-" * 70 + ".ts"],
)  # fmt: skip
def test_bad_object_names_get_400_and_nothing_is_written(server, stream_and_key, name):
    stream, key = stream_and_key
    status, body = server.raw("PUT", f"/streaming/ingest/{stream.public_id}/{name}",
                              body=SEGMENT, headers=auth(key))  # fmt: skip
    assert status == 400
    assert body.startswith("Bad object name:")
    assert stored_files(server.media_root, stream.public_id) == []
    assert not (server.media_root / "x.ts").exists()
    assert not (server.media_root / "ingest" / "x.ts").exists()


def test_an_oversized_body_gets_413_and_leaves_no_file_behind(server, stream_and_key):
    stream, key = stream_and_key
    chunk = b"\x47" * 65536
    chunks = [chunk] * (MAX_OBJECT_BYTES // len(chunk) + 2)
    status, body = server.raw("PUT", f"/streaming/ingest/{stream.public_id}/seg_0.ts",
                              chunks=chunks, headers=auth(key))  # fmt: skip
    assert (status, body) == (413, f"Too large: at most {MAX_OBJECT_BYTES} bytes per object.\n")
    assert stored_files(server.media_root, stream.public_id) == []
    assert temp_files(server.media_root) == []


def test_an_oversized_playlist_gets_413(server, stream_and_key):
    stream, key = stream_and_key
    status, _ = server.raw("PUT", f"/streaming/ingest/{stream.public_id}/v.m3u8",
                           body=b"#EXTM3U\n" + b"#" * 300_000, headers=auth(key))  # fmt: skip
    assert status == 413
    assert stored_files(server.media_root, stream.public_id) == []


def test_a_malformed_playlist_gets_400_and_publishes_nothing(server, stream_and_key):
    stream, key = stream_and_key
    bad = b"#EXTM3U\n#EXTINF:1,\n../../etc/passwd\n"
    status, body = server.raw("PUT", f"/streaming/ingest/{stream.public_id}/v.m3u8",
                              body=bad, headers=auth(key))  # fmt: skip
    assert status == 400
    assert body.startswith("Bad playlist: bad segment URI")
    assert stored_files(server.media_root, stream.public_id) == []


def test_other_methods_get_405(server, stream_and_key):
    stream, key = stream_and_key
    status, _ = server.raw("POST", f"/streaming/ingest/{stream.public_id}/seg_0.ts",
                           body=SEGMENT, headers=auth(key))  # fmt: skip
    assert status == 405


def test_delete_drops_only_what_was_not_published(server, stream_and_key):
    stream, key = stream_and_key
    path = f"/streaming/ingest/{stream.public_id}/seg_0.ts"
    server.raw("PUT", path, body=SEGMENT, headers=auth(key))
    assert server.raw("DELETE", path, headers=auth(key))[0] == 204
    assert stored_files(server.media_root, stream.public_id) == []


def test_an_ended_stream_takes_no_more_video(server, stream_and_key):
    stream, key = stream_and_key
    services.end_stream(stream_id=stream.pk)
    status, body = server.raw("PUT", f"/streaming/ingest/{stream.public_id}/seg_0.ts",
                              body=SEGMENT, headers=auth(key))  # fmt: skip
    assert (status, body) == (409, ENDED)
    assert stored_files(server.media_root, stream.public_id) == []


def test_a_draft_event_takes_no_video(server, db):
    stream, key = services.create_stream(event_id=EventFactory(status=EventStatus.DRAFT).pk)
    status, body = server.raw("PUT", f"/streaming/ingest/{stream.public_id}/seg_0.ts",
                              body=SEGMENT, headers=auth(key))  # fmt: skip
    assert (status, body) == (409, "The event is draft: schedule it first.\n")


def test_the_wsgi_view_refuses_a_wrong_key_the_same_way(client, stream):
    response = client.put(
        f"/streaming/ingest/{stream.public_id}/seg_0.ts", SEGMENT,
        content_type="video/mp2t", HTTP_AUTHORIZATION="Bearer nope",
    )  # fmt: skip
    assert (response.status_code, response.content) == (403, b"Wrong or rotated stream key.\n")


def test_the_wsgi_view_stores_a_segment_with_the_key(client, stream_and_key, media_root):
    stream, key = stream_and_key
    response = client.put(
        f"/streaming/ingest/{stream.public_id}/seg_0.ts", SEGMENT,
        content_type="video/mp2t", HTTP_AUTHORIZATION=f"Bearer {key}",
    )  # fmt: skip
    assert response.status_code == 201
    assert stored_files(media_root, stream.public_id) == [f"ingest/{stream.public_id}/seg_0.ts"]
