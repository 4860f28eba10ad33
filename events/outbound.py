"""Outbound HTTP fetches: the one way our code opens a connection to a URL it did not write
itself (a relay's upstream), and the check of the addresses another program connects to on
our behalf (simulcast destinations, which ffmpeg publishes to: `check_stream_destination`).

The rules, checked here so that no caller can forget one:

- http and https only; no credentials in the URL.
- Every address the host resolves to must be public: loopback, private, link-local,
  multicast, reserved, unspecified, CGNAT (100.64.0.0/10), documentation and benchmarking
  ranges, and IPv6 forms that embed such an IPv4 address (IPv4-mapped, 6to4, NAT64) or tunnel
  (Teredo) are refused. The check is made on the resolved addresses, so decimal, octal or hex
  spellings of an address (`http://2130706433/`) and names that resolve inside are refused
  too. OUTBOUND_ALLOWED_NETWORKS names private ranges an operator relays from on purpose.
- The connection goes to the address that was checked (the resolved IP is pinned; the Host
  header, SNI and certificate check still use the URL's name), so a DNS answer that changes
  between the check and the connection (rebinding) changes nothing.
- Redirects are not followed unless the caller allows some; every hop is checked like the
  first. A caller can pin every hop to one origin (`same_origin_as`).
- Bounds: the body's size (`max_bytes`), connecting, each read, and the whole exchange
  (`total_timeout_s`, DNS included: a watchdog closes the socket at the deadline, so a server
  trickling bytes cannot hold a worker).

Errors are `OutboundError`s whose message names the URL without its query string (upstream
URLs may carry tokens), safe to show staff. Nothing here logs a body.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

USER_AGENT = "Pledgecast/1 (+outbound)"
CHUNK_BYTES = 64 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})

# Never public, whatever the Python version's `is_global` says (its tables changed across
# 3.11 releases). IPv4-mapped, 6to4 and NAT64 addresses are checked by their IPv4 address.
_BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7",
        "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundError(Exception):
    """A fetch that did not happen or did not finish; the message is safe for staff."""


class OutboundRefused(OutboundError):
    """The policy refuses the URL, an address it resolves to, or a redirect: no request was
    sent there."""


class OutboundTooLarge(OutboundError):
    """The body is larger than `max_bytes`; what was read is discarded."""


class OutboundTimeout(OutboundError):
    """Connecting, a read, or the whole exchange took longer than its bound."""


class OutboundHTTPError(OutboundError):
    """The server answered with an error status (or a redirect we do not follow)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """The bounds of one fetch. `max_redirects` 0: a redirect is an error, not followed."""

    max_bytes: int
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 5.0
    total_timeout_s: float = 15.0
    max_redirects: int = 0


@dataclass(frozen=True)
class Response:
    """A 2xx answer. `url` is the last hop's URL; `body` is empty for `fetch_into`."""

    url: str
    status: int
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False, default=b"")


# --- Addresses --------------------------------------------------------------------------------


def allowed_networks() -> tuple[IPNetwork, ...]:
    """OUTBOUND_ALLOWED_NETWORKS: private ranges an operator relays from on purpose."""
    configured: Iterable[object] = getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", ())
    return tuple(ipaddress.ip_network(str(n)) for n in configured)


def forbidden_reason(address: IPAddress, *, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why `address` may not be fetched from ("loopback", "private", …), or None if it is
    public or inside one of the `allowed` networks."""
    allowed = tuple(allowed)
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return forbidden_reason(embedded, allowed=allowed)
        if address.teredo is not None:
            return "a Teredo tunnel address"
    if any(address.version == n.version and address in n for n in allowed):
        return None
    for reason, flagged in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flagged:
            return reason
    if any(address.version == n.version and address in n for n in _BLOCKED_NETWORKS):
        return "not public"
    if not address.is_global:
        return "not public"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


# --- URLs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # as in the URL (lower case, no brackets); what Host and SNI carry
    port: int
    request_path: str  # path and query, as sent in the request line
    shown: str  # scheme://host:port/path, no query: for messages

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


# The schemes fetched here, and those of streams another program sends (simulcast), with
# their default ports.
HTTP_PORTS = {"http": 80, "https": 443}
STREAM_PORTS = {"rtmp": 1935, "rtmps": 443}


def _target(url: str, *, ports: dict[str, int] = HTTP_PORTS) -> _Target:
    shown_raw = url.split("?", 1)[0].split("#", 1)[0][:200]
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise OutboundRefused(f"not a valid URL: {shown_raw}") from None
    scheme = parts.scheme.lower()
    if scheme not in ports:
        names = " and ".join(ports)
        raise OutboundRefused(f"only {names} URLs are allowed here, not {shown_raw}")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("URLs with credentials (user:password@) are not supported")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused(f"no host in {shown_raw}")
    port = port or ports[scheme]
    path = parts.path or "/"
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    shown = f"{scheme}://{netloc}{path}"[:200]
    request_path = path + (f"?{parts.query}" if parts.query else "")
    if any(ord(c) <= 32 or ord(c) == 127 for c in request_path):
        raise OutboundRefused(f"not a valid URL: {shown}")
    return _Target(scheme, host, port, request_path, shown)


def origin_of(url: str) -> str:
    """`scheme://host:port` of an http(s) URL (default ports spelled out), for comparing
    origins. Raises OutboundRefused for a URL this module would not fetch."""
    return _target(url).origin


# --- Resolving --------------------------------------------------------------------------------


def _resolve(host: str, port: int, timeout_s: float) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found: list[tuple[object, ...]] = []  # getaddrinfo's (family, type, proto, name, sockaddr)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            failed.append(exc)

    # getaddrinfo has no timeout of its own: a stuck resolver must not hold the caller.
    resolver = threading.Thread(target=run, name="outbound-resolve", daemon=True)
    resolver.start()
    resolver.join(max(0.0, timeout_s))
    if resolver.is_alive():
        raise OutboundTimeout(f"resolving {host} took longer than {timeout_s:.1f} s")
    if failed or not found:
        raise OutboundError(f"the host {host} does not resolve")
    addresses: list[IPAddress] = []
    for info in found:
        sockaddr = info[4]
        host_part = sockaddr[0] if isinstance(sockaddr, tuple) else sockaddr
        address = ipaddress.ip_address(str(host_part).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _checked_addresses(target: _Target, timeout_s: float) -> list[IPAddress]:
    """The target's addresses, all of them allowed; else OutboundRefused naming the first
    that is not (a name with one inside address among public ones is refused whole)."""
    allowed = allowed_networks()
    addresses = _resolve(target.host, target.port, timeout_s)
    for address in addresses:
        reason = forbidden_reason(address, allowed=allowed)
        if reason is not None:
            raise OutboundRefused(
                f"{target.shown}: {target.host} is {address}, a {reason} address; only public "
                "addresses are fetched (OUTBOUND_ALLOWED_NETWORKS lists exceptions)"
            )
    return addresses


def check_url(url: str, *, timeout_s: float = 3.0) -> None:
    """For staff-facing validation: raises OutboundError (OutboundRefused for the policy) if
    `url` would not be fetched now. The fetch checks again (DNS answers change)."""
    target = _target(url)
    _checked_addresses(target, timeout_s)


def check_stream_destination(url: str, *, timeout_s: float = 3.0) -> str:
    """The rules above for a stream destination that another program connects to (ffmpeg
    publishing a simulcast): rtmp or rtmps only, no credentials, every address the host
    resolves to public (or in OUTBOUND_ALLOWED_NETWORKS). Returns the URL as shown in
    messages (no query). Raises OutboundError (OutboundRefused for the policy). The caller
    checks again right before each connection; the program resolves the name itself, so the
    address is not pinned as `fetch` pins it."""
    target = _target(url, ports=STREAM_PORTS)
    _checked_addresses(target, timeout_s)
    return target.shown


# --- Fetching ---------------------------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to `address`, the checked one, whatever the host name resolves to now."""

    def __init__(self, target: _Target, address: IPAddress, *, connect_s: float, read_s: float):
        super().__init__(target.host, target.port, timeout=read_s)
        self.pinned = str(address)
        self.connect_s = connect_s

    def _open_socket(self) -> socket.socket:
        sock = socket.create_connection((self.pinned, self.port), self.connect_s)
        sock.settimeout(self.timeout)
        return sock

    def connect(self) -> None:
        self.sock = self._open_socket()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        # SNI and the certificate's name check use the URL's host, not the pinned address.
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self._open_socket(), server_hostname=self.host)


class _Watchdog:
    """Shuts the socket down at the deadline, so no blocked read outlives the total bound."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        # The plain socket's shutdown, also under TLS: it wakes a blocked read with EOF.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def fetch(
    url: str,
    *,
    limits: Limits,
    headers: dict[str, str] | None = None,
    same_origin_as: str | None = None,
) -> Response:
    """GET `url` under the rules above and return the whole body (at most
    `limits.max_bytes`). `same_origin_as`: a URL whose scheme, host and port every hop must
    have. Raises OutboundError (see its subclasses); never returns a non-2xx answer."""
    body = bytearray()
    response = fetch_into(
        url, body.extend, limits=limits, headers=headers, same_origin_as=same_origin_as
    )
    return Response(url=response.url, status=response.status, headers=response.headers,
                    body=bytes(body))  # fmt: skip


def fetch_into(
    url: str,
    write: Callable[[bytes], None],
    *,
    limits: Limits,
    headers: dict[str, str] | None = None,
    same_origin_as: str | None = None,
) -> Response:
    """As `fetch`, handing the body to `write` chunk by chunk as it arrives (so a large body
    is never held in memory). On an OutboundError part of the body may have been written:
    the caller discards it. An exception raised by `write` propagates as is."""
    call = _Call(
        write=write,
        limits=limits,
        headers=headers or {},
        deadline=time.monotonic() + limits.total_timeout_s,
    )
    pinned_origin = origin_of(same_origin_as) if same_origin_as is not None else None
    for _hop in range(limits.max_redirects + 1):
        target = _target(url)
        if pinned_origin is not None and target.origin != pinned_origin:
            raise OutboundRefused(
                f"{target.shown} is not on {pinned_origin}, the only origin allowed here"
            )
        answer = _exchange(target, call)
        if isinstance(answer, Response):
            return answer
        url = answer
    raise OutboundRefused(f"more than {limits.max_redirects} redirects from {_target(url).shown}")


@dataclass(frozen=True)
class _Call:
    """What one fetch asks of every hop: where the body goes, its bounds, its headers, and
    the deadline of the whole fetch."""

    write: Callable[[bytes], None]
    limits: Limits
    headers: dict[str, str]
    deadline: float


def _remaining(deadline: float, shown: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise OutboundTimeout(f"{shown}: took longer than the total time allowed")
    return left


def _exchange(target: _Target, call: _Call) -> str | Response:
    """One request to one checked address: the redirect's URL to follow next, or the 2xx
    answer once its body was written."""
    limits, deadline = call.limits, call.deadline
    addresses = _checked_addresses(target, min(limits.connect_timeout_s,
                                               _remaining(deadline, target.shown)))  # fmt: skip
    https = target.scheme == "https"
    connection_class = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
    conn: _PinnedHTTPConnection | None = None
    last_error: OSError | None = None
    for address in addresses:
        left = _remaining(deadline, target.shown)
        candidate = connection_class(
            target, address, connect_s=min(limits.connect_timeout_s, left),
            read_s=min(limits.read_timeout_s, left),
        )  # fmt: skip
        try:
            candidate.connect()
        except TimeoutError:
            last_error = TimeoutError("connecting timed out")
            candidate.close()
            continue
        except ssl.SSLError as exc:
            candidate.close()
            raise OutboundError(f"{target.shown}: TLS failed ({exc.reason or exc})") from None
        except OSError as exc:
            last_error = exc
            candidate.close()
            continue
        conn = candidate
        break
    if conn is None or conn.sock is None:
        if isinstance(last_error, TimeoutError):
            raise OutboundTimeout(f"{target.shown}: connecting timed out")
        why = getattr(last_error, "strerror", None) or last_error or "no address"
        raise OutboundError(f"{target.shown}: cannot connect ({why})")
    watchdog = _Watchdog(conn.sock, deadline - time.monotonic())
    try:
        return _request(conn, target, call)
    except OutboundError:
        raise
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        if watchdog.fired or isinstance(exc, TimeoutError):
            raise OutboundTimeout(f"{target.shown}: took longer than allowed") from None
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise OutboundError(f"{target.shown}: the connection failed ({why})") from None
    finally:
        watchdog.cancel()
        conn.close()


def _request(conn: _PinnedHTTPConnection, target: _Target, call: _Call) -> str | Response:
    write, limits, deadline = call.write, call.limits, call.deadline
    conn.putrequest("GET", target.request_path, skip_accept_encoding=True)
    for name, value in {"User-Agent": USER_AGENT, "Accept-Encoding": "identity",
                        **call.headers}.items():  # fmt: skip
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    status = response.status
    if status in REDIRECTS:
        location = response.getheader("Location", "")
        if limits.max_redirects == 0 or not location:
            shown = urljoin(target.shown, location).split("?", 1)[0][:200] or "nowhere"
            raise OutboundHTTPError(
                f"{target.shown}: redirected (HTTP {status}) to {shown}; redirects are not "
                "followed",
                status=status,
            )
        return urljoin(f"{target.origin}{target.request_path}", location)
    if not 200 <= status < 300:
        raise OutboundHTTPError(f"{target.shown}: HTTP {status}", status=status)
    declared_raw = (response.getheader("Content-Length") or "").strip()
    declared = int(declared_raw) if declared_raw.isdigit() else None
    if declared is not None and declared > limits.max_bytes:
        raise OutboundTooLarge(f"{target.shown}: {declared} bytes, more than {limits.max_bytes}")
    size = 0
    while chunk := response.read1(CHUNK_BYTES):
        size += len(chunk)
        if size > limits.max_bytes:
            raise OutboundTooLarge(f"{target.shown}: more than {limits.max_bytes} bytes")
        _remaining(deadline, target.shown)
        write(chunk)
    # http.client ends a body quietly when the connection closes early (or the watchdog
    # closed it): a short body is a failure, never a success.
    if declared is not None and size != declared:
        _remaining(deadline, target.shown)
        raise OutboundError(f"{target.shown}: the body ended after {size} of {declared} bytes")
    return Response(
        url=f"{target.origin}{target.request_path}",
        status=status,
        headers={k.lower(): v for k, v in response.getheaders()},
    )
