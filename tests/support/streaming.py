"""Helpers of the streaming tests: the servers' HLS settings, a web process with the media
directory it shares with the tests and its HTTP helpers, nginx with the deploy/ configs in
front of it, what a stream has in storage, delivering segments the way an encoder's PUTs
leave them, and relay upstreams."""

from __future__ import annotations

import http.client
import http.server
import ipaddress
import socket
import subprocess
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from streaming import services
from streaming.deployconf import render_edge_conf, render_origin_conf
from streaming.models import Stream
from streaming.storage import get_storage
from tests import support
from tests.support import processes
from tests.support.processes import Server

# Short segments keep the streaming tests fast (1 s is the shortest we allow); window = 3 TD.
TARGET_DURATION = 1
WINDOW_SECONDS = 3
MAX_OBJECT_BYTES = 2_000_000
WORKER_INTERVAL_S = 0.25
# The servers' playback signing secret (and this process's: the streaming tests' settings).
SIGNING_SECRET = "streaming-tests-signing-secret-0123456789"
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
        "PLAYBACK_SIGNING_SECRET": SIGNING_SECRET,
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


# --- nginx with deploy/nginx/ in front of a web process -----------------------------------------


@dataclass
class VideoPath:
    """The two edge placements deploy/README.md describes, in front of one web process:
    `edge_port` → `origin_port` (origin.conf.template) → web, and `direct_edge_port` → web.
    `prefix`: nginx's files (the caches under it)."""

    origin_port: int
    edge_port: int
    direct_edge_port: int
    prefix: Path
    procs: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        for proc in self.procs:
            processes.stop_nginx(proc)


def _nginx_conf(prefix: Path, name: str, includes: dict[str, str]) -> Path:
    """A whole nginx.conf for one test nginx (one worker, its files under `prefix/name`),
    with the rendered `includes` in `http { }`."""
    home = prefix / name
    home.mkdir()
    lines = []
    for include, text in includes.items():
        (home / include).write_text(text)
        lines.append(f"    include {home / include};")
    temps = "\n".join(
        f"    {kind}_temp_path {home / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = home / "nginx.conf"
    conf.write_text(
        f"daemon off;\nmaster_process off;\nworker_processes 1;\npid {home / 'nginx.pid'};\n"
        f"error_log {home / 'error.log'} warn;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n    access_log off;\n{temps}\n" + "\n".join(lines) + "\n}\n"
    )
    return conf


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_video_path(*, web_port: int, media_root: Path, prefix: Path) -> VideoPath:
    """nginx serving the deploy/ configs as rendered by streaming.deployconf, with the
    servers' signing secret: one nginx with the origin and an edge in front of it, another
    with an edge straight in front of the web process. Returned once every port answers."""
    origin_port, edge_port, direct_port = (support.free_port() for _ in range(3))
    origin = render_origin_conf(
        listen=f"127.0.0.1:{origin_port}", upstream=f"127.0.0.1:{web_port}",
        media_root=media_root, cache_dir=str(prefix / "origin-cache"), secret=SIGNING_SECRET,
    )  # fmt: skip

    def edge(port: int, upstream: int, name: str) -> str:
        return render_edge_conf(
            listen=f"127.0.0.1:{port}", origin=f"127.0.0.1:{upstream}",
            cache_dir=str(prefix / name), keys_zone="4m", max_size="256m",
            secret=SIGNING_SECRET,
        )  # fmt: skip

    confs = [
        _nginx_conf(prefix, "origin-and-edge", {
            "origin.conf": origin, "edge.conf": edge(edge_port, origin_port, "edge-cache"),
        }),
        _nginx_conf(prefix, "direct-edge", {
            "edge.conf": edge(direct_port, web_port, "direct-edge-cache"),
        }),
    ]  # fmt: skip
    procs = [processes.start_nginx(conf, prefix=conf.parent) for conf in confs]
    path = VideoPath(origin_port, edge_port, direct_port, prefix, procs)

    def up() -> bool:
        for proc, conf in zip(procs, confs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError((conf.parent / "error.log").read_text())
        return all(_accepts(port) for port in (origin_port, edge_port, direct_port))

    try:
        support.wait_for(up, 15, what="nginx")
    except BaseException:
        path.stop()
        raise
    return path
