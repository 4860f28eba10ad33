"""Relay mode against a loopback upstream whose playlist the test writes."""

from __future__ import annotations

import pytest

from events.models import EventStatus
from streaming import relay, services
from tests.streaming import hls_checks
from tests.support.streaming import served

pytestmark = pytest.mark.django_db


def write_upstream(directory, first: int, count: int, *, prefix="a", extra=()) -> None:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for seq in range(first, first + count):
        (directory / f"{prefix}{seq}.ts").write_bytes(b"\x47" * 188)
        if seq in extra:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += ["#EXTINF:1.0,", f"{prefix}{seq}.ts"]
    (directory / "up.m3u8").write_text("\n".join(lines) + "\n")


def uris(stream) -> list[tuple[str, bool]]:
    media = hls_checks.parse(served(stream, "r0/index.m3u8"))
    return [(s.uri, s.discontinuity) for s in media.segments]


def test_the_first_poll_starts_at_the_upstreams_live_edge(relay_upstream, relay_stream):
    write_upstream(relay_upstream[0], 10, 6)
    assert relay.poll_relay(stream_id=relay_stream.pk) == 3
    assert uris(relay_stream) == [("0.ts", False), ("1.ts", False), ("2.ts", False)]
    relay_stream.refresh_from_db()
    # Video arriving opens the green room; staff go live.
    assert (relay_stream.state, relay_stream.event.status) == ("live", EventStatus.BACKSTAGE)


def test_later_polls_publish_only_new_upstream_segments(relay_upstream, relay_stream):
    write_upstream(relay_upstream[0], 10, 6)
    relay.poll_relay(stream_id=relay_stream.pk)
    write_upstream(relay_upstream[0], 12, 6)
    assert relay.poll_relay(stream_id=relay_stream.pk) == 2
    assert relay.poll_relay(stream_id=relay_stream.pk) == 0


def test_an_upstream_restart_becomes_a_discontinuity(relay_upstream, relay_stream):
    write_upstream(relay_upstream[0], 10, 6)
    relay.poll_relay(stream_id=relay_stream.pk)
    write_upstream(relay_upstream[0], 0, 2, prefix="b")
    assert relay.poll_relay(stream_id=relay_stream.pk) == 2
    assert uris(relay_stream)[-2:] == [("3.ts", True), ("4.ts", False)]


def test_an_upstream_discontinuity_is_kept(relay_upstream, relay_stream):
    write_upstream(relay_upstream[0], 10, 6)
    relay.poll_relay(stream_id=relay_stream.pk)
    write_upstream(relay_upstream[0], 10, 7, extra=(16,))
    relay.poll_relay(stream_id=relay_stream.pk)
    assert uris(relay_stream)[-1] == ("3.ts", True)


def test_the_upstreams_endlist_is_a_pause_and_the_shows_end_ends_the_stream(
    relay_upstream, relay_stream
):
    write_upstream(relay_upstream[0], 10, 3)
    relay.poll_relay(stream_id=relay_stream.pk)
    (relay_upstream[0] / "up.m3u8").write_text(
        (relay_upstream[0] / "up.m3u8").read_text() + "#EXT-X-ENDLIST\n"
    )
    relay.poll_relay(stream_id=relay_stream.pk)
    relay_stream.refresh_from_db()
    assert relay_stream.state == "reconnecting"
    assert not served(relay_stream, "r0/index.m3u8").endswith("#EXT-X-ENDLIST\n")
    services.end_stream(stream_id=relay_stream.pk)
    relay_stream.refresh_from_db()
    assert relay_stream.state == "ended"
    assert served(relay_stream, "r0/index.m3u8").endswith("#EXT-X-ENDLIST\n")
