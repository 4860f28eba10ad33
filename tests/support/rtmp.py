"""The RTMP stack of the tests (tests/streaming/rtmp): a web process, `manage.py transcoder`
and one nginx serving deploy/nginx/rtmp.conf and deploy/nginx/edge.conf as rendered by
streaming.deployconf (the edge's origin: the web process), all on loopback ports of the run;
and OBS-like publishers (ffmpeg encoding a test pattern and tone, publishing RTMP)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from streaming import ffmpeg
from streaming.deployconf import render_edge_conf, render_rtmp_conf
from tests import support
from tests.support import processes
from tests.support.streaming import TARGET_DURATION, WINDOW_SECONDS, http_get

SIGNING_SECRET = "rtmp-stack-tests-signing-secret-0123456789"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
# What `manage.py transcoder` logs once its supervisor has looked for streams to transcode.
SUPERVISOR_RUNNING = b"transcoder supervisor running"


def publish_command(rtmp_url: str, *, size: str, kbps: int, seconds: float) -> list[str]:
    """An OBS-like encoder: H.264 with a keyframe every second and its bit rate in the FLV
    metadata (as OBS sends it), AAC audio, published over RTMP in real time."""
    return ffmpeg.base_command(
        "-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
        "-pix_fmt", "yuv420p", "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k",
        "-bufsize", f"{kbps}k",
        "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "64k", "-ac", "2",
        "-f", "flv", rtmp_url,
    )  # fmt: skip


def nginx_conf(*, tmp: Path, web_port: int, edge_port: int, rtmp_port: int) -> Path:
    """A whole nginx.conf around our two deploy configs, everything under `tmp`."""
    (tmp / "cache").mkdir()
    (tmp / "rtmp.conf").write_text(render_rtmp_conf(
        listen=f"127.0.0.1:{rtmp_port}", web=f"http://127.0.0.1:{web_port}",
        access_log=str(tmp / "rtmp_access.log"),
    ))  # fmt: skip
    (tmp / "edge.conf").write_text(render_edge_conf(
        listen=f"127.0.0.1:{edge_port}", origin=f"127.0.0.1:{web_port}",
        cache_dir=str(tmp / "cache"), access_log=str(tmp / "edge_access.log"),
        secret=SIGNING_SECRET,
    ))  # fmt: skip
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
load_module {RTMP_MODULE};
daemon off;
master_process on;
worker_processes 1;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log notice;
events {{ worker_connections 4096; }}
include {tmp}/rtmp.conf;
http {{
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    include {tmp}/edge.conf;
}}
""")
    return conf


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Stack:
    web: processes.Server
    transcoder: subprocess.Popen[bytes]
    nginx: subprocess.Popen[bytes]
    edge_port: int
    rtmp_port: int
    media_root: Path
    tmp: Path

    @property
    def web_port(self) -> int:
        return self.web.port

    def shutdown(self) -> None:
        """Stop every server (idempotent). Transactional tests flush the database after each
        test: no server of ours may hold a lock on it then (TRUNCATE would deadlock)."""
        processes.stop_nginx(self.nginx)
        processes.stop_process(self.transcoder)
        self.web.stop()

    def web_get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return http_get(self.web_port, path)

    def edge_get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return http_get(self.edge_port, path)

    def rtmp_url(self, public_id: str, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{public_id}?key={key}"

    def publish(
        self,
        public_id: str,
        key: str,
        *,
        size: str = "640x360",
        kbps: int = 700,
        seconds: float = 60,
    ) -> subprocess.Popen[bytes]:
        """An OBS-like encoder publishing to the stream (publish_command); its stderr is
        kept for the tests."""
        cmd = publish_command(self.rtmp_url(public_id, key), size=size, kbps=kbps, seconds=seconds)
        return ffmpeg.start(cmd, stderr=subprocess.PIPE, cwd=self.tmp)


def start_stack(env: dict[str, str] | None = None) -> Stack:
    """The whole stack, once the web process, nginx's RTMP and edge ports answer; `env`
    added to the web process's and the transcoder's environment. The caller calls
    `shutdown()`, then removes `tmp`."""
    tmp = Path(tempfile.mkdtemp(prefix="pc-rtmp-stack-"))
    media_root = tmp / "media"
    media_root.mkdir()
    edge_port, rtmp_port = support.free_port(), support.free_port()
    web = processes.start_server(env={
        "SECRET_KEY": settings.SECRET_KEY,  # the hook token in nginx's config derives from it
        "MEDIA_ROOT": str(media_root),
        "HLS_TARGET_DURATION": str(TARGET_DURATION),
        "HLS_WINDOW_SECONDS": str(WINDOW_SECONDS),
        "PLAYBACK_SIGNING_SECRET": SIGNING_SECRET,
        "RTMP_PLAY_URL": f"rtmp://127.0.0.1:{rtmp_port}/live",
        "TRANSCODER_POLL_MS": "200",
        **(env or {}),
    })  # fmt: skip
    transcoder = nginx = None
    try:
        transcoder = processes.start_transcoder({
            **web.env, "TRANSCODER_INGEST_URL": f"{web.origin}/streaming/ingest",
            "LOG_LEVEL": "INFO",
        }, log_file=tmp / "transcoder.log")  # fmt: skip
        conf = nginx_conf(tmp=tmp, web_port=web.port, edge_port=edge_port, rtmp_port=rtmp_port)
        nginx = processes.start_nginx(conf, prefix=tmp)
        stack = Stack(web, transcoder, nginx, edge_port, rtmp_port, media_root, tmp)

        def ready() -> bool:
            for proc in (web.proc, transcoder, nginx):
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[:3]} exited at start")
            # A publish before the supervisor's first round would reach it late.
            running = SUPERVISOR_RUNNING in (tmp / "transcoder.log").read_bytes()
            return running and _accepts(rtmp_port) and _accepts(edge_port)

        support.wait_for(ready, 30, 0.1, what="the transcoder and nginx")
        return stack
    except BaseException:
        for proc in (nginx, transcoder):
            if proc is not None:
                processes.stop_process(proc)
        web.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def start_rtmp_receiver(*, port: int, app: str, prefix: Path) -> subprocess.Popen[bytes]:
    """A bare nginx-rtmp on 127.0.0.1:`port` taking any stream published to `app` from
    loopback, as a simulcast destination (YouTube's ingest stands in here); players on
    loopback read what it receives. Returned once it accepts connections; stop it with
    processes.stop_nginx."""
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
load_module {RTMP_MODULE};
daemon off;
master_process on;
worker_processes 1;
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application {app} {{
            live on;
            record off;
            allow publish 127.0.0.1;
            deny publish all;
            allow play 127.0.0.1;
            deny play all;
        }}
    }}
}}
""")
    proc = processes.start_nginx(conf, prefix=prefix)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError((prefix / "error.log").read_text())
        return _accepts(port)

    try:
        support.wait_for(up, 15, what="the RTMP receiver")
    except BaseException:
        processes.stop_nginx(proc)
        raise
    return proc
