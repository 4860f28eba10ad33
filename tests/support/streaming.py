"""Helpers of the streaming tests: the servers' HLS settings, a web process with the media
directory it shares with the tests and its HTTP helpers, what a stream has in storage, and
delivering segments the way an encoder's PUTs leave them."""

from __future__ import annotations

import http.client
import http.server
import ipaddress
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from streaming import services
from streaming.models import Stream
from streaming.storage import get_storage
from tests.support.processes import Server

# Short segments keep the streaming tests fast (1 s is the shortest we allow); window = 3 TD.
TARGET_DURATION = 1
WINDOW_SECONDS = 3
MAX_OBJECT_BYTES = 2_000_000
WORKER_INTERVAL_S = 0.25
# The relay tests' upstreams listen on 127.0.0.1: the servers and this process allow it the
# way an operator relaying from its own network does (OUTBOUND_ALLOWED_NETWORKS). Nothing
# else of loopback: an upstream on 127.0.0.2 is refused by every server of the run.
LOOPBACK_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]


def hls_env(media_root: Path) -> dict[str, str]:
    """A server's environment for the streaming tests: storage in `media_root`, their HLS
    settings, relays from loopback allowed."""
    return {
        "MEDIA_ROOT": str(media_root),
        "HLS_TARGET_DURATION": str(TARGET_DURATION),
        "HLS_WINDOW_SECONDS": str(WINDOW_SECONDS),
        "HLS_MAX_OBJECT_BYTES": str(MAX_OBJECT_BYTES),
        "OUTBOUND_ALLOWED_NETWORKS": ",".join(map(str, LOOPBACK_NETWORKS)),
    }


class _UpstreamHandler(http.server.SimpleHTTPRequestHandler):
    server: UpstreamServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requested.append(self.path)
        if self.path in self.server.redirects:
            self.send_response(302)
            self.send_header("Location", self.server.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


class UpstreamServer(http.server.ThreadingHTTPServer):
    """A relay upstream on loopback serving `directory`, with `redirects` (path → Location)
    and the paths it was asked for in `requested`."""

    daemon_threads = True

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), partial(_UpstreamHandler, directory=str(directory)))
        self.directory = directory
        self.requested: list[str] = []
        self.redirects: dict[str, str] = {}
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.server_address[0]}:{self.port}{path}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """GET `path` from 127.0.0.1:`port`: status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@dataclass
class StreamingServer:
    """A web process (ingest, origin) with a stream worker beside it, writing to
    `media_root`."""

    web: Server
    media_root: Path

    @property
    def port(self) -> int:
        return self.web.port

    @property
    def origin(self) -> str:
        return self.web.origin

    def ingest_url(self, public_id: str) -> str:
        return f"{self.origin}/streaming/ingest/{public_id}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        return http_get(self.port, path, headers)

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict | None = None,
        chunks: list[bytes] | None = None,
    ) -> tuple[int, str]:
        """A request with the path sent exactly as given (no normalisation)."""  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if chunks is not None:
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                for chunk in chunks:
                    try:
                        conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    except OSError:
                        break  # the server answered early and closed: read its answer
                else:
                    conn.send(b"0\r\n\r\n")
            else:
                conn.putheader("Content-Length", str(len(body or b"")))
                conn.endheaders(body or b"")
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()


def stored_files(media_root: Path, public_id: str) -> list[str]:
    """Every file the stream has anywhere in storage (ingest area and published tree)."""
    found = []
    for area in ("ingest", "live"):
        base = media_root / area / public_id
        if base.exists():
            found += sorted(str(p.relative_to(media_root)) for p in base.rglob("*") if p.is_file())
    return found


def temp_files(media_root: Path) -> list[str]:
    tmp = media_root / ".tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def encoder_playlist(first: int, count: int, *, duration: float = 1.0, end: bool = False,
                     prefix: str = "seg") -> str:  # fmt: skip
    """An encoder's media playlist listing `<prefix><first>.ts`… (`count` segments)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1",
             f"#EXT-X-MEDIA-SEQUENCE:{first}"]  # fmt: skip
    for seq in range(first, first + count):
        lines += [f"#EXTINF:{duration:.6f},", f"{prefix}{seq}.ts"]
    if end:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def deliver(stream: Stream, first: int, count: int, **kwargs) -> services.Delivery:
    """PUT the segments `first…first+count-1` (if not there yet), then the playlist, as an
    encoder would (rendition "v"), through the services."""
    storage = get_storage()
    prefix = kwargs.get("prefix", "seg")
    for seq in range(first, first + count):
        storage.put(f"ingest/{stream.public_id}/{prefix}{seq}.ts", b"\x47" * 188 * (seq + 1))
    return services.receive_playlist(
        stream_id=stream.pk, name="v.m3u8", text=encoder_playlist(first, count, **kwargs)
    )


def served(stream: Stream, name: str = "v/index.m3u8") -> str:
    """What the origin serves of the stream's `name`, read from storage."""
    return get_storage().read(f"live/{stream.public_id}/{name}", max_bytes=1 << 20).decode()
