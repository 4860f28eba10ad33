"""deploy/nginx/origin.conf.template rendered and run by real nginx in front of the web
process: segments straight from storage, playlists and ingest through to uvicorn."""

from __future__ import annotations

import http.client

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def nginx(video_path) -> int:
    """The origin nginx's port (the session's, tests/streaming/conftest.py)."""
    return video_path.origin_port


def get(port: int, path: str, method: str = "GET", headers: dict | None = None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_nginx_serves_segments_from_storage_as_immutable(nginx, live_stream):
    status, headers, body = get(nginx, f"/live/{live_stream.public_id}/v/1.ts")
    assert (status, body) == (200, b"\x47" * 376)
    assert headers["content-type"] == "video/mp2t"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["etag"].startswith('"')
    assert "server: uvicorn" not in str(headers)


def test_nginx_answers_ranges_of_segments(nginx, live_stream):
    status, headers, body = get(
        nginx, f"/live/{live_stream.public_id}/v/1.ts", headers={"Range": "bytes=0-9"}
    )
    assert (status, headers["content-range"], len(body)) == (206, "bytes 0-9/376", 10)


def test_nginx_answers_a_segment_etag_with_304(nginx, live_stream):
    etag = get(nginx, f"/live/{live_stream.public_id}/v/0.ts")[1]["etag"]
    status, _, _ = get(
        nginx, f"/live/{live_stream.public_id}/v/0.ts", headers={"If-None-Match": etag}
    )
    assert status == 304


def test_nginx_never_caches_a_missing_segment(nginx, live_stream):
    status, headers, _ = get(nginx, f"/live/{live_stream.public_id}/v/9.ts")
    assert (status, headers["cache-control"]) == (404, "no-store")


def test_nginx_passes_playlists_to_the_web_process_with_its_headers(nginx, live_stream):
    status, headers, body = get(nginx, f"/live/{live_stream.public_id}/v/index.m3u8")
    assert status == 200
    assert headers["content-type"] == "application/vnd.apple.mpegurl"
    assert headers["cache-control"] == (
        "public, max-age=1, stale-while-revalidate=1, stale-if-error=3"
    )
    assert body.startswith(b"#EXTM3U\n")


def test_nginx_answers_a_cors_preflight_for_segments(nginx, live_stream):
    status, headers, _ = get(nginx, f"/live/{live_stream.public_id}/v/0.ts", method="OPTIONS")
    assert (status, headers["access-control-allow-headers"]) == (204, "Range")


def test_nginx_streams_chunked_ingest_puts_through(nginx, stream_and_key):
    stream, key = stream_and_key
    conn = http.client.HTTPConnection("127.0.0.1", nginx, timeout=10)
    conn.request("PUT", f"/streaming/ingest/{stream.public_id}/seg9.ts",
                 body=iter([b"\x47" * 188] * 3), headers={"Authorization": f"Bearer {key}"},
                 encode_chunked=True)  # fmt: skip
    assert conn.getresponse().status == 201
    conn.close()
