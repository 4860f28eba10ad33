"""Program date-times say when a segment's first frame was captured, so that a player's
wall clock less a segment's EXT-X-PROGRAM-DATE-TIME is the real latency: the encoder's own
date-time when its playlist has one, else when the segment's upload began (an encoder PUTs a
segment while it encodes it), never when its playlist happened to arrive. Through the real
ingest of a web process."""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime, timedelta

import pytest

from streaming import playlists, signing
from tests.streaming import hls_checks
from tests.support import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SEGMENT = b"\x47" * 188 * 50


def _put(server, stream_and_key, name: str, chunks: list[bytes], *, until: float = 0) -> int:
    """PUT `name` as an encoder does (chunked, on its own connection); the last chunk goes
    only once time.time() has reached `until` (an encoder still encoding the segment)."""
    stream, key = stream_and_key
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("PUT", f"/streaming/ingest/{stream.public_id}/{name}")
        conn.putheader("Authorization", f"Bearer {key}")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for i, chunk in enumerate(chunks):
            if i == len(chunks) - 1 and until:
                wait_for(lambda: time.time() >= until, until - time.time() + 1, 0.01)
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
        return conn.getresponse().status
    finally:
        conn.close()


def _playlist(pdt: str | None) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    if pdt is not None:
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{pdt}")
    lines += ["#EXTINF:1.000000,", "seg0.ts", "#EXTINF:1.000000,", "seg1.ts"]
    return ("\n".join(lines) + "\n").encode()


def _signed(public_id: str, path: str) -> str:
    """Before the show the playlists are served under the staff's signed prefix."""
    return signing.playback_path(public_id=public_id, path=path, signed=True)


def _served_pdts(server, stream) -> list[datetime]:
    status, _, body = server.get(_signed(stream.public_id, "v/index.m3u8"))
    assert status == 200
    return [datetime.fromisoformat(s.pdt or "") for s in hls_checks.parse(body.decode()).segments]


def _ffmpeg_time(value: datetime) -> str:
    # ffmpeg's -hls_flags program_date_time writes "2026-12-01T12:00:00.123+0000".
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def test_the_encoders_own_program_date_time_is_published(server, stream_and_key):
    captured = datetime.now(UTC).replace(microsecond=123_000) - timedelta(seconds=2)
    for name in ("seg0.ts", "seg1.ts"):
        assert _put(server, stream_and_key, name, [SEGMENT]) == 201
    assert _put(server, stream_and_key, "v.m3u8", [_playlist(_ffmpeg_time(captured))]) == 201
    assert _served_pdts(server, stream_and_key[0]) == [captured, captured + timedelta(seconds=1)]


def test_without_one_the_first_segment_is_dated_by_the_start_of_its_upload(server, stream_and_key):
    # The segment's PUT begins as its first frame is encoded and ends a duration later; the
    # playlist follows 0.6 s after that (a busy encoder).
    began = time.time()
    assert _put(server, stream_and_key, "seg0.ts", [SEGMENT[:188], SEGMENT], until=began + 1) == 201
    assert _put(server, stream_and_key, "seg1.ts", [SEGMENT]) == 201
    wait_for(lambda: time.time() >= began + 1.6, 2, 0.01)
    assert _put(server, stream_and_key, "v.m3u8", [_playlist(None)]) == 201
    first, second = _served_pdts(server, stream_and_key[0])
    assert abs(first.timestamp() - began) < 0.15
    assert second - first == timedelta(seconds=1)


def test_an_encoder_date_time_far_from_our_clock_is_not_believed(server, stream_and_key):
    wrong = datetime.now(UTC) - timedelta(hours=3)
    began = time.time()
    for name in ("seg0.ts", "seg1.ts"):
        assert _put(server, stream_and_key, name, [SEGMENT]) == 201
    assert _put(server, stream_and_key, "v.m3u8", [_playlist(_ffmpeg_time(wrong))]) == 201
    first, _ = _served_pdts(server, stream_and_key[0])
    assert abs(first.timestamp() - began) < 0.5


def test_a_malformed_program_date_time_refuses_the_playlist(server, stream_and_key):
    for name in ("seg0.ts", "seg1.ts"):
        assert _put(server, stream_and_key, name, [SEGMENT]) == 201
    assert _put(server, stream_and_key, "v.m3u8", [_playlist("yesterday")]) == 400
    status, _, _ = server.get(_signed(stream_and_key[0].public_id, "v/index.m3u8"))
    assert status == 404


def test_the_reader_carries_a_date_time_on_by_the_durations_until_a_discontinuity():
    parsed = playlists.parse_media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-12-01T12:00:00.500Z\n"
        "#EXTINF:2.0,\na.ts\n#EXTINF:1.5,\nb.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.0,\nc.ts\n"
    )
    start = datetime(2026, 12, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    assert [s.program_date_time for s in parsed.segments] == [
        start, start + timedelta(seconds=2), None
    ]  # fmt: skip
