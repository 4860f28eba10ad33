"""Static files as the web process serves them outside DEBUG (config/staticfiles.py): the names
`collectstatic` hashed, kept by browsers for good, Brotli to a client that accepts it and gzip to
one that accepts only gzip."""

from __future__ import annotations

import gzip
import re
import urllib.request
from collections.abc import Iterator

import brotli
import pytest

from events.models import EventStatus
from tests.factories import EventFactory
from tests.support.processes import Server, start_server

HLS_SCRIPT = re.compile(r'<script src="(/static/vendor/hls\.js/hls\.light\.min\.[0-9a-f]{12}\.js)"')


@pytest.fixture(scope="module")
def server(django_db_setup) -> Iterator[Server]:
    web = start_server()
    yield web
    web.stop()


def get(url: str, **headers: str):
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (our own server)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, response.headers, response.read()


@pytest.fixture
def hls_url(transactional_db, server) -> str:
    event = EventFactory(status=EventStatus.LIVE)
    status, headers, body = get(server.url(f"/events/{event.slug}/"))
    assert status == 200
    assert headers["Content-Security-Policy"]
    match = HLS_SCRIPT.search(body.decode())
    assert match, "the page links hls.js by its hashed name"
    return match.group(1)


def test_the_page_links_hashed_names_only(transactional_db, server):
    event = EventFactory(status=EventStatus.LIVE)
    html = get(server.url(f"/events/{event.slug}/"))[2].decode()
    static_urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert static_urls
    for url in static_urls:
        assert re.search(r"\.[0-9a-f]{12}\.[a-z]+$", url), url


def test_a_hashed_file_is_sent_as_brotli_cached_for_good_to_a_client_that_accepts_it(
    server, hls_url
):
    status, headers, body = get(server.url(hls_url), **{"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200
    assert headers["Content-Encoding"] == "br"
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Cache-Control"] == "max-age=315360000, public, immutable"
    plain = get(server.url(hls_url))[2]
    assert brotli.decompress(body) == plain
    gzipped = get(server.url(hls_url), **{"Accept-Encoding": "gzip"})[2]
    assert len(body) < len(gzipped)


def test_hls_js_is_sent_gzipped_to_a_client_that_accepts_only_gzip(server, hls_url):
    status, headers, body = get(server.url(hls_url), **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    plain = get(server.url(hls_url))[2]
    assert gzip.decompress(body) == plain
    assert len(body) < len(plain) / 3


def test_a_hashed_name_is_cached_for_good(server, hls_url):
    headers = get(server.url(hls_url), **{"Accept-Encoding": "gzip"})[1]
    assert headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Type"] == 'text/javascript; charset="utf-8"'


def test_an_unhashed_name_is_cached_for_a_minute_only(server):
    headers = get(server.url("/static/vendor/hls.js/hls.light.min.js"))[1]
    assert headers["Cache-Control"] == "max-age=60, public"


def test_an_unknown_static_file_is_a_404(server):
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(server.url("/static/js/nothing.0123456789ab.js"))
    assert refused.value.code == 404


def test_a_browser_revalidating_a_file_it_has_gets_a_304(server, hls_url):
    etag = get(server.url(hls_url))[1]["ETag"]
    with pytest.raises(urllib.error.HTTPError) as answered:
        get(server.url(hls_url), **{"If-None-Match": etag})
    assert answered.value.code == 304
