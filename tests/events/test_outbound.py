"""events.outbound: the one way out. Refusals are proven against a real loopback server that
counts what reaches it (a refused fetch sends nothing); the allow-list is the operator's way
to relay from its own network."""

from __future__ import annotations

import http.server
import ipaddress
import threading
import time
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_networks
from events import outbound

LIMITS = outbound.Limits(max_bytes=1000, connect_timeout_s=2, read_timeout_s=2, total_timeout_s=5)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host", "")))
        path = self.path
        if path == "/ok":
            self._send(200, b"hello")
        elif path.startswith("/redirect?to="):
            self._send(302, b"", {"Location": path.split("=", 1)[1]})
        elif path == "/big":
            self._send(200, b"x" * 5000)
        elif path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"1f4\r\n" + b"y" * 500 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/trickle":  # a byte every 0.1 s, never the end
            self.send_response(200)
            self.send_header("Content-Length", "900")
            self.end_headers()
            self._trickle()
        elif path == "/stall":  # headers, then nothing
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.flush()
            self.server.release.wait(10)
        else:
            self._send(404, b"no")

    def _trickle(self) -> None:
        for _ in range(900):
            if self.server.release.wait(0.1):
                return
            try:
                self.wfile.write(b"z")
                self.wfile.flush()
            except OSError:
                return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LocalServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[tuple[str, str]] = []
        self.release = threading.Event()

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture
def local() -> Iterator[LocalServer]:
    server = LocalServer()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def operator_network(settings):
    """The operator's documented path: OUTBOUND_ALLOWED_NETWORKS names loopback."""
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "0.0.0.0", "2130706433", "0177.0.0.1",  # noqa: S104 (refused, never bound)
        "0x7f.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[2002:7f00:1::1]",
    ],
)  # fmt: skip
def test_it_refuses_loopback_in_every_spelling_and_sends_nothing(local, host):
    with pytest.raises(outbound.OutboundRefused) as refused:
        outbound.fetch(f"http://{host}:{local.port}/ok", limits=LIMITS)
    assert "only public addresses are fetched" in str(refused.value)
    assert local.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/",
        "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.1.1/", "http://100.64.0.1/",
        "http://224.0.0.1/", "http://255.255.255.255/", "http://240.0.0.1/",
        "http://[fe80::1]/", "http://[::]/", "http://[64:ff9b::a9fe:a9fe]/",
        "https://[::ffff:169.254.169.254]/",
    ],
)  # fmt: skip
def test_it_refuses_private_link_local_and_metadata_addresses(url):
    with pytest.raises(outbound.OutboundRefused):
        outbound.fetch(url, limits=LIMITS)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("169.254.169.254", "link-local"),
        ("100.64.0.1", "not public"), ("0.0.0.0", "unspecified"), ("224.0.0.251", "multicast"),  # noqa: S104
        ("198.18.0.1", "private"), ("::1", "loopback"), ("fd12::1", "private"),
        ("::ffff:10.0.0.1", "private"), ("2002:a00:1::", "private"),
        ("64:ff9b::7f00:1", "loopback"), ("2001:0:4136:e378::1", "a Teredo tunnel address"),
        # Python's own tables for these changed across 3.11 releases: refused either way.
        ("192.0.0.8", None), ("::7f00:1", None), ("192.88.99.1", None), ("100::1", None),
    ],
)  # fmt: skip
def test_it_names_why_an_address_is_not_public(address, reason):
    found = outbound.forbidden_reason(ipaddress.ip_address(address))
    assert found is not None
    assert reason is None or found == reason


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "2002:808:808::1"]
)
def test_public_addresses_pass(address):
    assert outbound.forbidden_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1:70/", "//example.com/",
        "http://user:pw@example.com/", "http:///nohost", "http://example.com:99999/",
        "http://example.com/a b",
    ],
)  # fmt: skip
def test_it_refuses_urls_it_does_not_fetch(url):
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url(url)


def test_the_allow_list_lets_an_operator_fetch_from_its_own_network(local, operator_network):
    response = outbound.fetch(f"http://localhost:{local.port}/ok", limits=LIMITS)
    assert (response.status, response.body) == (200, b"hello")
    # The Host header is the URL's, though the connection went to the checked address.
    assert local.seen == [("/ok", f"localhost:{local.port}")]


def test_the_allow_list_does_not_open_other_private_ranges(operator_network):
    with pytest.raises(outbound.OutboundRefused):
        outbound.fetch("http://169.254.169.254/latest/meta-data/", limits=LIMITS)


def test_the_connection_goes_to_the_checked_address_whatever_the_name_resolves_to(local):
    # A name that resolves nowhere: the pinned connection never looks it up again.
    target = outbound._target(f"http://rebound.invalid:{local.port}/ok")
    conn = outbound._PinnedHTTPConnection(
        target, ipaddress.ip_address("127.0.0.1"), connect_s=2, read_s=2
    )
    conn.request("GET", "/ok")
    assert conn.getresponse().status == 200
    conn.close()
    assert local.seen == [("/ok", f"rebound.invalid:{local.port}")]


def test_redirects_are_not_followed_by_default(local, operator_network):
    with pytest.raises(outbound.OutboundHTTPError) as refused:
        outbound.fetch(f"http://127.0.0.1:{local.port}/redirect?to=/ok", limits=LIMITS)
    assert refused.value.status == 302
    assert "redirects are not followed" in str(refused.value)
    assert [path for path, _ in local.seen] == ["/redirect?to=/ok"]


def test_a_followed_redirect_is_checked_again(local, operator_network):
    limits = outbound.Limits(max_bytes=1000, max_redirects=3)
    ok = outbound.fetch(f"http://127.0.0.1:{local.port}/redirect?to=/ok", limits=limits)
    assert (ok.body, ok.url) == (b"hello", f"http://127.0.0.1:{local.port}/ok")
    for inside in ("http://169.254.169.254/latest/", "http://10.0.0.1/x", "http://[::1]/x"):
        with pytest.raises(outbound.OutboundRefused):
            outbound.fetch(f"http://127.0.0.1:{local.port}/redirect?to={inside}", limits=limits)


def test_every_hop_stays_on_the_pinned_origin(local, operator_network):
    limits = outbound.Limits(max_bytes=1000, max_redirects=3)
    elsewhere = f"http://localhost:{local.port}/ok"  # same server, another origin
    with pytest.raises(outbound.OutboundRefused) as refused:
        outbound.fetch(
            f"http://127.0.0.1:{local.port}/redirect?to={elsewhere}", limits=limits,
            same_origin_as=f"http://127.0.0.1:{local.port}/up.m3u8",
        )  # fmt: skip
    assert "the only origin allowed here" in str(refused.value)
    assert [path for path, _ in local.seen] == [f"/redirect?to={elsewhere}"]


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_a_body_past_max_bytes_is_cut_off(local, operator_network, path):
    written: list[bytes] = []
    with pytest.raises(outbound.OutboundTooLarge):
        outbound.fetch_into(f"http://127.0.0.1:{local.port}{path}", written.append, limits=LIMITS)
    assert sum(map(len, written)) <= LIMITS.max_bytes


def test_a_trickling_body_is_cut_off_at_the_total_timeout(local, operator_network):
    limits = outbound.Limits(max_bytes=10_000, read_timeout_s=1, total_timeout_s=1.5)
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTimeout):
        outbound.fetch(f"http://127.0.0.1:{local.port}/trickle", limits=limits)
    assert time.monotonic() - started < 3


def test_a_stalled_body_times_out_after_the_read_timeout(local, operator_network):
    limits = outbound.Limits(max_bytes=10_000, read_timeout_s=0.5, total_timeout_s=10)
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTimeout):
        outbound.fetch(f"http://127.0.0.1:{local.port}/stall", limits=limits)
    assert time.monotonic() - started < 3


def test_an_error_status_is_an_error_without_the_query_string(local, operator_network):
    with pytest.raises(outbound.OutboundHTTPError) as failed:
        outbound.fetch(f"http://127.0.0.1:{local.port}/missing?token=s3cret", limits=LIMITS)
    assert failed.value.status == 404
    assert "s3cret" not in str(failed.value)


def test_the_allow_list_setting_is_parsed_loudly(monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", " 10.20.0.0/16, fd00:20::/32 ,192.0.2.7")
    assert [str(n) for n in env_networks("OUTBOUND_ALLOWED_NETWORKS")] == [
        "10.20.0.0/16", "fd00:20::/32", "192.0.2.7/32",
    ]  # fmt: skip
    monkeypatch.delenv("OUTBOUND_ALLOWED_NETWORKS")
    assert env_networks("OUTBOUND_ALLOWED_NETWORKS") == []
    for bad in ("10.0.0.1/8", "10.0.0.0/33", "intranet"):
        monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", bad)
        with pytest.raises(ImproperlyConfigured, match="OUTBOUND_ALLOWED_NETWORKS"):
            env_networks("OUTBOUND_ALLOWED_NETWORKS")
