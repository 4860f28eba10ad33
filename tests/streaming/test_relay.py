"""Relay mode against a loopback upstream whose playlist the test writes."""

from __future__ import annotations

import http.server
import threading
from functools import partial

import pytest

from events.models import EventStatus
from streaming import relay, services
from streaming.models import StreamMode
from tests.factories import EventFactory
from tests.streaming import hls_checks
from tests.streaming.test_playlist_writer import served

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream(tmp_path):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}/up.m3u8"
    httpd.shutdown()


def write_upstream(directory, first: int, count: int, *, prefix="a", extra=()) -> None:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for seq in range(first, first + count):
        (directory / f"{prefix}{seq}.ts").write_bytes(b"\x47" * 188)
        if seq in extra:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += ["#EXTINF:1.0,", f"{prefix}{seq}.ts"]
    (directory / "up.m3u8").write_text("\n".join(lines) + "\n")


@pytest.fixture
def stream(upstream):
    _, url = upstream
    event = EventFactory(status=EventStatus.SCHEDULED)
    stream, _ = services.create_stream(event_id=event.pk, mode=StreamMode.RELAY, relay_url=url)
    return stream


def uris(stream) -> list[tuple[str, bool]]:
    media = hls_checks.parse(served(stream, "r0/index.m3u8"))
    return [(s.uri, s.discontinuity) for s in media.segments]


def test_the_first_poll_starts_at_the_upstreams_live_edge(upstream, stream):
    write_upstream(upstream[0], 10, 6)
    assert relay.poll_relay(stream_id=stream.pk) == 3
    assert uris(stream) == [("0.ts", False), ("1.ts", False), ("2.ts", False)]
    stream.refresh_from_db()
    assert (stream.state, stream.event.status) == ("live", EventStatus.LIVE)


def test_later_polls_publish_only_new_upstream_segments(upstream, stream):
    write_upstream(upstream[0], 10, 6)
    relay.poll_relay(stream_id=stream.pk)
    write_upstream(upstream[0], 12, 6)
    assert relay.poll_relay(stream_id=stream.pk) == 2
    assert relay.poll_relay(stream_id=stream.pk) == 0


def test_an_upstream_restart_becomes_a_discontinuity(upstream, stream):
    write_upstream(upstream[0], 10, 6)
    relay.poll_relay(stream_id=stream.pk)
    write_upstream(upstream[0], 0, 2, prefix="b")
    assert relay.poll_relay(stream_id=stream.pk) == 2
    assert uris(stream)[-2:] == [("3.ts", True), ("4.ts", False)]


def test_an_upstream_discontinuity_is_kept(upstream, stream):
    write_upstream(upstream[0], 10, 6)
    relay.poll_relay(stream_id=stream.pk)
    write_upstream(upstream[0], 10, 7, extra=(16,))
    relay.poll_relay(stream_id=stream.pk)
    assert uris(stream)[-1] == ("3.ts", True)


def test_the_upstreams_endlist_ends_the_stream(upstream, stream):
    write_upstream(upstream[0], 10, 3)
    relay.poll_relay(stream_id=stream.pk)
    (upstream[0] / "up.m3u8").write_text((upstream[0] / "up.m3u8").read_text() + "#EXT-X-ENDLIST\n")
    relay.poll_relay(stream_id=stream.pk)
    stream.refresh_from_db()
    assert stream.state == "ended"
    assert served(stream, "r0/index.m3u8").endswith("#EXT-X-ENDLIST\n")
