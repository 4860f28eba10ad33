"""The HLS edge cache under a live audience, and the ladder's real-time factor.

    .venv/bin/python bench/edge.py            # 1,000 viewers, 60 s per run (about 3 min)
    .venv/bin/python bench/edge.py --quick    # 1,000 viewers, 12 s per run (under 60 s)

What runs, all on 127.0.0.1, against the real PostgreSQL and Redis:
- the web process (uvicorn, config.asgi): ingest and playlists; the origin nginx from
  deploy/nginx/origin.conf.template (segments from disk, playlists proxied to the web);
- a live two-rendition stream (ffmpeg's test pattern, 640x360 and 320x180, 2-s segments)
  pushed into the ingest;
- a counting proxy in front of the origin (its own process), which adds the artificial delay
  of the second run (300 ms per request) and counts every request the edge sends;
- the edge: nginx with deploy/nginx/edge.conf (rendered by streaming.deployconf), a fresh cache
  per run;
- viewers: separate processes (asyncio, one keep-alive connection each), that act like hls.js:
  fetch the master, pick a rendition, reload the media playlist every target duration, fetch
  each new segment (starting 3 segments back from the live end).

Printed for each run: viewer requests, origin requests, the cache hit ratio (X-Cache-Status
HIT/STALE/UPDATING/REVALIDATED), how many times each segment was fetched from the origin
(goal: exactly once per edge), viewer latency p50/p99; the baseline is the same audience
without the edge (every viewer request would be an origin request: ratio = origin/viewer).
Then the ladder's real-time factor for a 1080p30 source (720p/480p/360p x264 veryfast, the
argv of streaming.ladder.command writing HLS to local files; goal ≥ 1.5x).
The last line is one JSON object (../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pc_bench_edge"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
PORTS = range(18700, 18800)  # this bench's own range (the tests take theirs from PC_TEST_PORTS)
TARGET_DURATION = 2
VIEWER_PROCESSES = 2
HITS = {"HIT", "STALE", "UPDATING", "REVALIDATED"}


def free_port(taken: set[int]) -> int:
    for port in PORTS:
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError("no free port")


# --- a minimal HTTP/1.1 client and proxy over asyncio streams --------------------------------


async def read_response(reader: asyncio.StreamReader, method: str = "GET") -> tuple[bytes, bytes]:
    """(head, body) of one response; bodies by Content-Length or chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if method == "HEAD" or status in (204, 304):
        return head, b""
    if b"content-length" in headers:
        return head, await reader.readexactly(int(headers[b"content-length"]))
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            body += await reader.readexactly(size + 2)
            if size == 0:
                return head, bytes(body)
    return head, await reader.read()


def header(head: bytes, name: bytes) -> str:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode()
    return ""


class CountingProxy:
    """Between the edge and the origin: counts requests per path, adds a delay. Its own
    paths: /__bench/counts (JSON), /__bench/reset?delay_ms=N."""

    def __init__(self, origin_port: int) -> None:
        self.origin_port = origin_port
        self.counts: Counter[str] = Counter()
        self.delay = 0.0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, path = head.split(b" ", 2)[:2]
                if path.startswith(b"/__bench/"):
                    body = self._control(path.decode())
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(body), body))  # fmt: skip
                    await writer.drain()
                    continue
                self.counts[path.decode()] += 1
                if self.delay:
                    await asyncio.sleep(self.delay)
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.origin_port)
                upstream[1].write(head)
                await upstream[1].drain()
                rhead, rbody = await read_response(upstream[0], method.decode())
                writer.write(rhead + rbody)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            if upstream is not None:
                upstream[1].close()

    def _control(self, path: str) -> bytes:
        if path.startswith("/__bench/reset"):
            self.counts.clear()
            self.delay = int(path.rsplit("=", 1)[1]) / 1000 if "=" in path else 0.0
            return b"{}"
        return json.dumps(self.counts).encode()


def run_proxy(port: int, origin_port: int) -> None:
    proxy = CountingProxy(origin_port)

    async def main() -> None:
        server = await asyncio.start_server(proxy.handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


# --- viewers ----------------------------------------------------------------------------------


class Viewer:
    def __init__(self, n: int, port: int, master: str, stats: dict, until: float) -> None:
        self.n, self.port, self.master, self.stats, self.until = n, port, master, stats, until
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, kind: str) -> bytes | None:
        for _ in range(2):  # one retry on a fresh connection
            try:
                if self.conn is None:
                    self.conn = await asyncio.open_connection("127.0.0.1", self.port)
                started = time.perf_counter()
                self.conn[1].write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                head, body = await read_response(self.conn[0])
            except (OSError, asyncio.IncompleteReadError):
                self.conn = None
                self.stats["errors"] += 1
                continue
            self.stats["latency"][kind].append(time.perf_counter() - started)
            self.stats["cache"][header(head, b"x-cache-status") or "-"] += 1
            self.stats["requests"] += 1
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                self.stats["status"][status] += 1
                return None
            return body
        return None

    async def run(self) -> None:
        await asyncio.sleep(random.random() * TARGET_DURATION)  # players start at any moment
        master = await self.get(self.master, "master")
        while master is None and time.monotonic() < self.until:
            await asyncio.sleep(1)
            master = await self.get(self.master, "master")
        if master is None:
            return
        uris = [line for line in master.decode().splitlines() if line and line[0] != "#"]
        base = self.master.rsplit("/", 1)[0] + "/"
        media = base + uris[self.n % len(uris)]
        folder = media.rsplit("/", 1)[0] + "/"
        next_seq: int | None = None
        while time.monotonic() < self.until:
            started = time.monotonic()
            text = await self.get(media, "playlist")
            if text is not None:
                lines = text.decode().splitlines()
                first = int(next(x for x in lines if x.startswith("#EXT-X-MEDIA-SEQUENCE:"))[22:])
                segs = [(first + i, uri) for i, uri in enumerate(x for x in lines
                                                                 if x and x[0] != "#")]  # fmt: skip
                if next_seq is None:
                    next_seq = segs[max(0, len(segs) - 3)][0] if segs else 0
                for seq, uri in segs:
                    if seq >= next_seq and time.monotonic() < self.until:
                        await self.get(folder + uri, "segment")
                        next_seq = seq + 1
            await asyncio.sleep(max(0.1, TARGET_DURATION - (time.monotonic() - started)))
        if self.conn is not None:
            self.conn[1].close()


def run_viewers(port: int, master: str, count: int, seconds: float, first: int, out: str) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    stats: dict = {"latency": {"master": [], "playlist": [], "segment": []},
                   "cache": Counter(), "status": Counter(), "requests": 0, "errors": 0}  # fmt: skip

    async def main() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(Viewer(first + i, port, master, stats, until).run()
                               for i in range(count)))  # fmt: skip

    asyncio.run(main())
    Path(out).write_text(json.dumps(stats))


# --- the stack --------------------------------------------------------------------------------


def server_env(media_root: Path, web_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "MEDIA_ROOT": str(media_root),
        "HLS_TARGET_DURATION": str(TARGET_DURATION),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "TRANSCODER_INGEST_URL": f"http://127.0.0.1:{web_port}/streaming/ingest",
    }


def prepare(env: dict[str, str]) -> tuple[str, str]:
    """A fresh bench database, an event and its stream: (public_id, key)."""
    dbname = DATABASE_URL.rsplit("/", 1)[1]
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force",
                    dbname], check=True, capture_output=True)  # fmt: skip
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname], check=True)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    code = (
        "import django,json;django.setup();"
        "from datetime import timedelta;from django.utils import timezone;"
        "from events.models import *;from streaming import services;"
        "c=Campaign.objects.create(slug='bench',name='Bench',legal_name='Bench');now=timezone.now();"
        "e=Event.objects.create(slug='bench-edge',campaign=c,title='Bench',starts_at=now,"
        "ends_at=now+timedelta(days=1),capacity_tier=CapacityTier.objects.order_by('pk').first(),"
        "goal_minor=100,status='live');"
        "s,k=services.create_stream(event_id=e.pk);print(json.dumps([s.public_id,k]))"
    )
    out = subprocess.run([PY, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True)
    public_id, key = json.loads(out.stdout.decode().splitlines()[-1])
    return public_id, key


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def http_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def nginx_conf(tmp: Path, name: str, body: str) -> Path:
    conf = tmp / f"{name}.nginx.conf"
    conf.write_text(f"""
daemon off;
user root;
worker_processes 2;
worker_rlimit_nofile 20000;
pid {tmp}/{name}.pid;
error_log {tmp}/{name}.error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/{name}_body;
    proxy_temp_path {tmp}/{name}_proxy;
    fastcgi_temp_path {tmp}/{name}_fcgi;
    uwsgi_temp_path {tmp}/{name}_uwsgi;
    scgi_temp_path {tmp}/{name}_scgi;
{body}
}}
""")
    return conf


class Stack:
    """Everything the bench starts, stopped in reverse order (also on Ctrl-C or an error)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGQUIT if proc.args[0] == "nginx" else signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run_load(*, edge_port: int, master: str, viewers: int, seconds: float, tmp: Path) -> dict:
    per = -(-viewers // VIEWER_PROCESSES)
    procs, outs = [], []
    for i in range(VIEWER_PROCESSES):
        out = tmp / f"viewers-{i}.json"
        outs.append(out)
        procs.append(subprocess.Popen([
            PY, __file__, "--role", "viewers", "--port", str(edge_port), "--master", master,
            "--count", str(min(per, viewers - i * per)), "--seconds", str(seconds),
            "--first", str(i * per), "--out", str(out),
        ]))  # fmt: skip
    for proc in procs:
        proc.wait()
    merged: dict = {"latency": {"master": [], "playlist": [], "segment": []},
                    "cache": Counter(), "status": Counter(), "requests": 0,
                    "errors": 0}  # fmt: skip
    for out in outs:
        part = json.loads(out.read_text())
        for kind, values in part["latency"].items():
            merged["latency"][kind] += values
        merged["cache"].update(part["cache"])
        merged["status"].update(part["status"])
        merged["requests"] += part["requests"]
        merged["errors"] += part["errors"]
    return merged


def one_run(*, label: str, delay_ms: int, stack: Stack, env: dict, tmp: Path, proxy_port: int,
            edge_port: int, master: str, viewers: int, seconds: float) -> dict:  # fmt: skip
    urllib.request.urlopen(
        f"http://127.0.0.1:{proxy_port}/__bench/reset?delay_ms={delay_ms}", timeout=5
    ).read()
    cache = tmp / f"cache-{label}"
    cache.mkdir()
    edge_conf = subprocess.run(
        [PY, "manage.py", "nginx_edge_conf", "--listen", f"127.0.0.1:{edge_port}",
         "--origin", f"127.0.0.1:{proxy_port}", "--origin-host", "127.0.0.1",
         "--cache-dir", str(cache), "--access-log", "off"],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    conf = nginx_conf(tmp, f"edge-{label}", edge_conf)
    edge = stack.start(["nginx", "-c", str(conf), "-p", str(tmp)])
    wait_until(lambda: http_ok(edge_port, master), 20, "the edge")
    load = run_load(edge_port=edge_port, master=master, viewers=viewers, seconds=seconds, tmp=tmp)
    counts = json.loads(urllib.request.urlopen(
        f"http://127.0.0.1:{proxy_port}/__bench/counts", timeout=5).read())  # fmt: skip
    stack.stop(edge)
    segment_fetches = Counter(n for path, n in counts.items() if path.endswith(".ts"))
    hits = sum(n for status, n in load["cache"].items() if status in HITS)
    origin_requests = sum(counts.values())
    lat = [v for values in load["latency"].values() for v in values]
    return {
        "viewer_requests": load["requests"],
        "origin_requests": origin_requests,
        "origin_playlist_requests": sum(n for p, n in counts.items() if p.endswith(".m3u8")),
        "hit_ratio": round(hits / max(1, load["requests"]), 5),
        "segments_fetched": sum(segment_fetches.values()),
        "distinct_segments": sum(1 for p in counts if p.endswith(".ts")),
        # The live stream's own health: 2 renditions, one segment per target duration each.
        "stream_realtime": round(
            sum(1 for p in counts if p.endswith(".ts")) / (2 * seconds / TARGET_DURATION), 2
        ),
        "max_origin_fetches_per_segment": max(
            (n for p, n in counts.items() if p.endswith(".ts")), default=0
        ),
        "segment_fetch_histogram": dict(sorted(segment_fetches.items())),
        "viewer_p50_ms": round(percentile(lat, 0.5) * 1000, 1),
        "viewer_p99_ms": round(percentile(lat, 0.99) * 1000, 1),
        "segment_p99_ms": round(percentile(load["latency"]["segment"], 0.99) * 1000, 1),
        "playlist_p99_ms": round(percentile(load["latency"]["playlist"], 0.99) * 1000, 1),
        "cache_statuses": dict(load["cache"]),
        "non_200": dict(load["status"]),
        "errors": load["errors"],
    }


def ladder_factor(*, seconds: int, tmp: Path) -> dict:
    """Real-time factor of the adaptive ladder for a 1080p30 source: media seconds per second
    of wall time, the same argv as the transcoder's, writing HLS to local files."""
    sys.path.insert(0, str(ROOT))
    from streaming import ffmpeg, ladder

    src = tmp / "src1080.flv"
    subprocess.run(
        ffmpeg.base_command(
         "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6000k", "-g", "60",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", str(src)),
        check=True,
    )  # fmt: skip
    source = ladder.Source("h264", 1920, 1080, 30.0, 6000, True)
    outputs = ladder.plan(ladder="adaptive", source=source)
    out_dir = tmp / "ladder"
    out_dir.mkdir()
    cmd = ladder.command(ffmpeg=ffmpeg.ffmpeg_path(), input_url=str(src), ingest_url=str(out_dir),
                         token="bench", outputs=outputs, source=source,  # noqa: S106
                         target_duration=2)  # fmt: skip
    for option, width in (("-method", 2), ("-headers", 2), ("-rw_timeout", 2),
                          ("-http_persistent", 2), ("-progress", 2)):  # fmt: skip
        i = cmd.index(option)
        del cmd[i : i + width]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return {"rungs": [o.name for o in outputs], "seconds": seconds, "wall_s": round(wall, 2),
            "factor": round(seconds / wall, 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--role", default="bench", choices=["bench", "viewers", "proxy"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--origin-port", type=int)
    parser.add_argument("--master")
    parser.add_argument("--count", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.role == "viewers":
        run_viewers(args.port, args.master, args.count, args.seconds, args.first, args.out)
        return
    if args.role == "proxy":
        run_proxy(args.port, args.origin_port)
        return
    bench(quick=args.quick, viewers=args.viewers)


def bench(*, quick: bool, viewers: int) -> None:
    seconds = 12 if quick else 60
    tmp = Path(tempfile.mkdtemp(prefix="pc-bench-edge-"))
    media_root = tmp / "media"
    media_root.mkdir()
    taken: set[int] = set()
    web_port, origin_port, proxy_port, edge_port = (free_port(taken) for _ in range(4))
    env = server_env(media_root, web_port)
    stack = Stack()
    results: dict = {}
    try:
        public_id, key = prepare(env)
        # The servers' own logs go to a file (404s while the stream starts, the pusher's end).
        log = (tmp / "servers.log").open("wb")
        stack.start([PY, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                     "--port", str(web_port), "--no-access-log", "--log-level", "warning",
                     "--lifespan", "off"], cwd=ROOT, env=env, stdout=log,
                    stderr=subprocess.STDOUT)  # fmt: skip
        wait_until(lambda: http_ok(web_port, "/healthz"), 30, "the web process")
        origin = subprocess.run(
            [PY, "manage.py", "nginx_origin_conf", "--listen", f"127.0.0.1:{origin_port}",
             "--upstream", f"127.0.0.1:{web_port}"],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        stack.start(["nginx", "-c", str(nginx_conf(tmp, "origin", origin)), "-p", str(tmp)])
        stack.start([PY, __file__, "--role", "proxy", "--port", str(proxy_port),
                     "--origin-port", str(origin_port)])  # fmt: skip
        sys.path.insert(0, str(ROOT))
        from streaming import teststream

        stack.start(teststream.push_command(
            ingest_url=f"http://127.0.0.1:{web_port}/streaming/ingest/{public_id}", key=key,
            target_duration=TARGET_DURATION, renditions=2,
        ), stdout=subprocess.DEVNULL)  # fmt: skip
        master = f"/live/{public_id}/master.m3u8"
        wait_until(lambda: http_ok(origin_port, master), 30, "the live stream")
        print(f"cpus={os.cpu_count()} viewers={viewers} in {VIEWER_PROCESSES} processes, "
              f"{seconds} s per run; edge: nginx, 2 workers; "
              "origin: nginx + 1 uvicorn")  # fmt: skip
        print(f"load before: {os.getloadavg()}")
        for label, delay in (("fast", 0), ("slow", 300)):
            results[label] = one_run(
                label=label, delay_ms=delay, stack=stack, env=env, tmp=tmp,
                proxy_port=proxy_port, edge_port=edge_port, master=master, viewers=viewers,
                seconds=seconds,
            )  # fmt: skip
            print(f"load after the {label} run: {os.getloadavg()}")
        for proc in stack.procs[::-1]:  # stop the stream before measuring the ladder
            stack.stop(proc)
        print(f"load before the ladder: {os.getloadavg()}")
        results["ladder"] = ladder_factor(seconds=6 if quick else 20, tmp=tmp)
        print(f"load after the ladder: {os.getloadavg()}")
    finally:
        stack.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, viewers=viewers, seconds=seconds)


def report(results: dict, *, viewers: int, seconds: float) -> None:
    fast, slow, lad = results["fast"], results["slow"], results["ladder"]
    rows = [
        ("viewer requests", "viewer_requests"), ("origin requests", "origin_requests"),
        ("  of which playlists", "origin_playlist_requests"), ("cache hit ratio", "hit_ratio"),
        ("distinct segments fetched", "distinct_segments"),
        ("  of the stream's expected output", "stream_realtime"),
        ("max origin fetches per segment", "max_origin_fetches_per_segment"),
        ("viewer p50 ms", "viewer_p50_ms"), ("viewer p99 ms", "viewer_p99_ms"),
        ("segment p99 ms", "segment_p99_ms"), ("playlist p99 ms", "playlist_p99_ms"),
        ("errors", "errors"),
    ]  # fmt: skip
    print(f"\n{'':34}{'origin 0 ms':>14}{'origin +300 ms':>16}")
    for title, key in rows:
        print(f"{title:34}{fast[key]!s:>14}{slow[key]!s:>16}")
    for label, run in (("0 ms", fast), ("+300 ms", slow)):
        print(f"origin fetches per segment ({label}): {run['segment_fetch_histogram']} "
              f"(fetches: segments); cache: {run['cache_statuses']}; "
              f"non-200: {run['non_200']}")  # fmt: skip
        ratio = run["origin_requests"] / max(1, run["viewer_requests"])
        print(
            f"  baseline without the edge: origin requests = viewer requests "
            f"({run['viewer_requests']}); with it {run['origin_requests']} (ratio {ratio:.4f})"
        )
    print(
        f"ladder {lad['rungs']} on a 1080p30 source: {lad['seconds']} s in {lad['wall_s']} s "
        f"= {lad['factor']}x real time (goal >= 1.5x)"
    )
    print(json.dumps({"bench": "edge", "cpus": os.cpu_count(), "results": {
        "viewers": viewers, "seconds": seconds,
        "viewer_requests": fast["viewer_requests"], "origin_requests": fast["origin_requests"],
        "hit_ratio": fast["hit_ratio"],
        "max_origin_fetches_per_segment": fast["max_origin_fetches_per_segment"],
        "viewer_p50_ms": fast["viewer_p50_ms"], "viewer_p99_ms": fast["viewer_p99_ms"],
        "slow_origin_viewer_requests": slow["viewer_requests"],
        "slow_origin_origin_requests": slow["origin_requests"],
        "slow_origin_hit_ratio": slow["hit_ratio"],
        "slow_origin_max_origin_fetches_per_segment": slow["max_origin_fetches_per_segment"],
        "slow_origin_viewer_p50_ms": slow["viewer_p50_ms"],
        "slow_origin_viewer_p99_ms": slow["viewer_p99_ms"],
        "ladder_realtime_factor": lad["factor"],
    }}))  # fmt: skip


if __name__ == "__main__":
    main()
