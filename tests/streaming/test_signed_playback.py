"""Signed playback end to end through deploy/nginx/, in both placements deploy/README.md
describes: edge → origin nginx (origin.conf.template) → web process, and edge → web process.
The player's signed URLs play; a signed stream's unsigned URLs are refused at the edge
whatever it cached while the stream was public, and by the origin nginx itself; bad and
expired signatures are refused; a playlist is never served stale past its bound."""

from __future__ import annotations

import time

import pytest

from streaming import selectors, services, signing
from streaming.models import Stream
from tests.support import wait_for
from tests.support.streaming import http_get

pytestmark = pytest.mark.django_db(transaction=True)

PLACEMENTS = ["edge_port", "direct_edge_port"]  # edge → origin nginx → web; edge → web
FILES = ("master.m3u8", "v/index.m3u8", "v/1.ts")


def sign(stream: Stream, *, public_id: str | None = None, expires: int | None = None) -> str:
    """The signed prefix a player gets (as stream.json builds it), or one for `expires`."""
    if expires is None:
        master = signing.playback_path(public_id=stream.public_id, path="x", signed=True)
        return master.rsplit("/", 1)[0]
    token = signing.playback_token(public_id=public_id or stream.public_id, expires=expires)
    return f"/s/{token}/{expires}/live/{stream.public_id}"


def set_signed(stream: Stream, signed: bool) -> None:
    services.set_delivery_options(stream_id=stream.pk, ladder=stream.ladder, signed_playback=signed)


@pytest.fixture
def signed_stream(live_stream) -> Stream:
    set_signed(live_stream, True)
    return live_stream


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_the_players_signed_urls_play_through_the_edge(video_path, signed_stream, placement):
    port = getattr(video_path, placement)
    prefix = sign(signed_stream)
    answers = {name: http_get(port, f"{prefix}/{name}") for name in FILES}
    assert {name: status for name, (status, _, _) in answers.items()} == dict.fromkeys(FILES, 200)
    assert answers["master.m3u8"][2].startswith(b"#EXTM3U")
    assert answers["v/index.m3u8"][2].startswith(b"#EXTM3U")
    assert answers["v/1.ts"][2] == b"\x47" * 376
    # A second viewer's request is the edge's copy.
    assert http_get(port, f"{prefix}/v/1.ts")[1]["X-Cache-Status"] == "HIT"


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_unsigned_urls_are_refused_at_the_edge_even_when_cached_while_public(
    video_path, live_stream, placement
):
    port = getattr(video_path, placement)
    unsigned = [f"/live/{live_stream.public_id}/{name}" for name in FILES]
    for path in unsigned:  # cached while the stream is public
        assert http_get(port, path)[0] == 200
    assert http_get(port, unsigned[2])[1]["X-Cache-Status"] == "HIT"

    set_signed(live_stream, True)
    # The edge keeps the origin's "public" answer for a second at most.
    wait_for(lambda: http_get(port, unsigned[2])[0] == 403, 5, what="the segment refused")
    for path in unsigned:
        status, headers, body = http_get(port, path)
        assert (status, body) == (403, b"Forbidden at the edge: this stream needs a signed URL.\n")
        assert headers["Cache-Control"] == "no-store"
    # The same files still play for a signed URL.
    assert http_get(port, f"{sign(live_stream)}/v/1.ts")[0] == 200


def test_the_origin_nginx_refuses_an_unsigned_segment_of_a_signed_stream(video_path, live_stream):
    path = f"/live/{live_stream.public_id}/v/1.ts"
    assert http_get(video_path.origin_port, path)[0] == 200  # public: from storage
    set_signed(live_stream, True)
    wait_for(lambda: http_get(video_path.origin_port, path)[0] == 403, 5, what="a 403")
    status, headers, body = http_get(video_path.origin_port, path)
    assert (status, body) == (403, b"Forbidden: this stream needs a signed URL.\n")
    assert headers["Cache-Control"] == "no-store"
    assert http_get(video_path.origin_port, f"/live/{live_stream.public_id}/v/index.m3u8")[0] == 403


def test_the_origin_nginx_checks_signatures_itself(video_path, signed_stream):
    port = video_path.origin_port
    now = int(time.time())
    good, expired = sign(signed_stream), sign(signed_stream, expires=now - 5)
    other = sign(signed_stream, public_id="0123456789abcdef", expires=now + 600)
    assert http_get(port, f"{good}/v/1.ts")[:3:2] == (200, b"\x47" * 376)
    assert http_get(port, f"{good}/v/index.m3u8")[0] == 200
    assert http_get(port, f"{expired}/v/1.ts")[::2] == (403, b"Forbidden: expired.\n")
    assert http_get(port, f"{other}/v/1.ts")[::2] == (403, b"Forbidden: bad signature.\n")
    assert http_get(port, f"{other}/v/index.m3u8")[::2] == (403, b"Forbidden: bad signature.\n")


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_bad_and_expired_signatures_are_refused_at_the_edge(video_path, signed_stream, placement):
    port = getattr(video_path, placement)
    now = int(time.time())
    good = sign(signed_stream)
    assert http_get(port, f"{good}/v/1.ts")[0] == 200  # cached under the signed key
    token, expires = good.split("/")[2:4]
    tampered = good.replace(token, ("A" if token[0] != "A" else "B") + token[1:])
    cases = {
        f"{sign(signed_stream, expires=now - 5)}/v/1.ts": b"expired",
        f"{tampered}/v/1.ts": b"bad signature",
        f"{tampered}/master.m3u8": b"bad signature",
        good.replace(f"/{expires}/", f"/{int(expires) + 600}/") + "/v/1.ts": b"bad signature",
        f"{sign(signed_stream, public_id='0123456789abcdef', expires=now + 600)}/v/1.ts": (
            b"bad signature"
        ),
    }
    for path, reason in cases.items():
        status, headers, body = http_get(port, path)
        assert (status, body) == (403, b"Forbidden at the edge: " + reason + b".\n"), path
        assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_playlist_is_not_served_stale_past_its_bound(video_path, live_stream, media_root,
                                                       placement):  # fmt: skip
    """The origin stops serving a playlist (here: it is gone, 404): the edge may serve its
    copy stale for a target duration while it refreshes, then passes the origin's answer."""
    port = getattr(video_path, placement)
    path = f"/live/{live_stream.public_id}/v/index.m3u8"
    assert http_get(port, path)[0] == 200
    (media_root / "live" / live_stream.public_id / "v" / "index.m3u8").unlink()
    started = time.monotonic()
    wait_for(lambda: http_get(port, path)[0] == 404, 8, 0.1, what="the origin's 404")
    # max-age 1 s + stale-while-revalidate 1 s, counted by nginx in whole seconds.
    assert time.monotonic() - started < 4


def test_the_origin_tells_nginx_whether_a_stream_is_public(client, live_stream):
    access = f"/streaming/playback-access/{live_stream.public_id}"
    assert client.get(access).status_code == 204
    set_signed(live_stream, True)
    response = client.get(access)
    assert (response.status_code, response["Cache-Control"]) == (403, "no-store")
    assert client.get("/streaming/playback-access/0123456789abcdef").status_code == 204
    assert selectors.needs_signed_url(public_id=live_stream.public_id)
