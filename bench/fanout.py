"""Fan-out of live-room snapshots to N WebSocket clients, against two baselines.

    .venv/bin/python bench/fanout.py            # N = 10,000 and the most `ulimit -n` allows
    .venv/bin/python bench/fanout.py --quick    # N = 10,000 only, fewer broadcasts (≤ 60 s)

Systems, each in its own server process on 127.0.0.1, measured in the same run:
- `live`: our live room (uvicorn, config.asgi, the hub), snapshots published on Redis as the
  event's elected publisher does; `live_deflate`: the same with per-message deflate on.
- `bare`: a bare `websockets` server that subscribes to Redis and calls `broadcast()`.
- `naive`: a Channels consumer per socket in a group on the pub/sub layer, fed by `group_send`.
Clients run in separate processes (a raw asyncio client, cheap per message so that it is not
the bottleneck), each offering permessage-deflate as browsers do. For each broadcast the
latency is from publish to the last socket's receipt; `deliveries_per_s` is N divided by the
mean broadcast time. RSS per connection is the server's RSS growth divided by N, idle.
Every client checks it got each broadcast exactly once (lost / duplicated are reported).
The last line is one JSON object (../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pc_bench_fanout"
)
SLUG = "bench-fanout"
PER_CLIENT = 5_000  # sockets per client process (open files are capped at 20,000 a process)
BARE_CHANNEL = "bench:bare"


# -- the client ---------------------------------------------------------------------------------
class Client(asyncio.Protocol):
    """A minimal WebSocket client: handshake offering permessage-deflate, then counts text
    messages by the `"version":` they carry and answers pings."""

    def __init__(self, stats: dict[int, list[float]], host: str, port: int, path: str) -> None:
        self.stats, self.host, self.port, self.path = stats, host, port, path
        self.buf = bytearray()
        self.open = asyncio.get_running_loop().create_future()
        self.inflate: zlib._Decompress | None = None
        self.no_context = False
        self.last = -1
        self.dups = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://{self.host}:{self.port}\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError("closed during handshake"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1").lower()
            del self.buf[: end + 4]
            if not head.startswith("http/1.1 101"):
                self.open.set_exception(ConnectionError(head.split("\r\n", 1)[0]))
                return
            if "permessage-deflate" in head:
                self.inflate = zlib.decompressobj(-15)
                self.no_context = "server_no_context_takeover" in head
            self.open.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            length, at = b1 & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, at = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + length:
                return
            payload = bytes(buf[at : at + length])
            del buf[: at + length]
            opcode = b0 & 0x0F
            if opcode == 9 and self.transport is not None:  # ping: pong, masked (key 0)
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif opcode in (1, 2):
                if b0 & 0x40 and self.inflate is not None:
                    payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
                    if self.no_context:
                        self.inflate = zlib.decompressobj(-15)
                self._message(payload)

    def _message(self, payload: bytes) -> None:
        at = payload.find(b'"version":')
        if at < 0:
            return
        end = at + 10
        while payload[end] in b"0123456789":
            end += 1
        version = int(payload[at + 10 : end])
        if version <= self.last:
            self.dups += 1
            return
        self.last = version
        entry = self.stats.get(version)
        now = time.monotonic()
        if entry is None:
            self.stats[version] = [1, now, now]
        else:
            entry[0] += 1
            entry[2] = now


async def run_client(host: str, port: int, path: str, count: int) -> None:
    loop = asyncio.get_running_loop()
    stats: dict[int, list[float]] = {}
    clients: list[Client] = []
    gate = asyncio.Semaphore(64)

    async def one() -> None:
        async with gate:
            for attempt in range(5):
                try:
                    _, proto = await loop.create_connection(
                        lambda: Client(stats, host, port, path), host, port
                    )
                    await asyncio.wait_for(proto.open, 30)
                    clients.append(proto)
                    return
                except (OSError, TimeoutError):
                    await asyncio.sleep(0.2 * (attempt + 1))

    await asyncio.gather(*(one() for _ in range(count)))
    print(f"ready {len(clients)}", flush=True)
    reported: set[int] = set()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    stop = asyncio.ensure_future(reader.readline())
    while not stop.done():
        for version, (n, first, last) in list(stats.items()):
            if n >= len(clients) and version not in reported:
                reported.add(version)
                print(f"got {version} {first:.6f} {last:.6f}", flush=True)
        await asyncio.sleep(0.002)
    counts = {v: int(s[0]) for v, s in stats.items()}
    dups = sum(c.dups for c in clients)
    print("done " + json.dumps({"counts": counts, "dups": dups, "n": len(clients)}), flush=True)


# -- the bare baseline server --------------------------------------------------------------------
async def run_bare(port: int) -> None:
    import redis.asyncio as aioredis
    from websockets.asyncio.server import broadcast, serve

    async def handler(ws: object) -> None:
        await ws.wait_closed()  # type: ignore[attr-defined]

    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096) as server:
        client = aioredis.Redis.from_url(REDIS_URL)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(BARE_CHANNEL)
        async for message in pubsub.listen():
            broadcast(server.connections, message["data"].decode())


# -- the naive Channels baseline (uvicorn bench.fanout:naive_application --factory) -------------
def naive_application() -> object:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import URLRouter
    from django.urls import path

    class NaiveConsumer(AsyncWebsocketConsumer):
        groups = ["bench"]

        async def bench_snap(self, event: dict[str, str]) -> None:
            await self.send(text_data=event["text"])

    return URLRouter([path("ws/naive/", NaiveConsumer.as_asgi())])


# -- the orchestrator ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def server_env() -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
        # Every simulated viewer comes from this machine's one address: no per-address cap.
        "LIVE_SEATS_PER_ADDRESS_PERCENT": "0",
    }


def prepare_database() -> int:
    """Migrate the bench database and make sure the bench event exists; returns its id."""
    env = server_env()
    dbname = DATABASE_URL.rsplit("/", 1)[1]
    subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname],
        capture_output=True,
        check=False,
    )
    subprocess.run([PY, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    code = (
        "import django;django.setup();"
        "from datetime import timedelta;from django.utils import timezone;"
        "from events.models import *;"
        "c,_=Campaign.objects.get_or_create(slug='bench',defaults={'name':'Bench',"
        "'legal_name':'Bench'});"
        "now=timezone.now();"
        f"e,_=Event.objects.get_or_create(slug='{SLUG}',defaults={{'campaign':c,"
        "'title':'Bench','starts_at':now,'ends_at':now+timedelta(days=3650),"
        "'capacity_tier':CapacityTier.objects.get(max_attendees=50000),'goal_minor':100,"
        "'status':'live'});print(e.pk)"
    )
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    out = subprocess.run([PY, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True)
    return int(out.stdout.decode().split()[-1])


class System:
    def __init__(self, name: str, cmd: list[str], port: int, path: str, event_id: int) -> None:
        self.name, self.cmd, self.port, self.path, self.event_id = name, cmd, port, path, event_id
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: tempfile._TemporaryFileWrapper[bytes] | None = None

    def start(self) -> None:
        # The server's own log goes to a file, printed only if it fails to start.
        self.log = tempfile.NamedTemporaryFile(prefix=f"fanout-{self.name}-")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=server_env(), start_new_session=True,
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    self.log.seek(0)
                    sys.stderr.write(self.log.read().decode(errors="replace")[-4000:])
                    raise RuntimeError(f"{self.name} server exited") from None
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} server did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.log is not None:
            self.log.close()

    async def publish(self, redis: object, layer: object, version: int) -> float:
        body = json.dumps(
            {"version": version, "raised": 123456, "donors": 789, "donations": 1011,
             "goal": 5_000_000, "viewers": 10_000, "status": "live", "currency": "usd",
             "recent": [{"name": f"Donor {i}", "amount": 2500, "message": "Go team!"}
                        for i in range(5)]},
            separators=(",", ":"),
        )  # fmt: skip
        sent = time.monotonic()
        if self.name.startswith("live"):
            channel = f"pc:live:db{REDIS_URL.rsplit('/', 1)[1]}"  # events.livebus.channel()
            await redis.publish(channel, f"s|{self.event_id}|{version}|{body}")  # type: ignore[attr-defined]
        elif self.name == "bare":
            await redis.publish(BARE_CHANNEL, body)  # type: ignore[attr-defined]
        else:
            await layer.group_send("bench", {"type": "bench.snap", "text": body})  # type: ignore[attr-defined]
        return sent


async def measure(system: System, n: int, broadcasts: int) -> dict[str, float]:
    import redis.asyncio as aioredis
    from channels_redis.pubsub import RedisPubSubChannelLayer

    redis = aioredis.Redis.from_url(REDIS_URL)
    layer = RedisPubSubChannelLayer(hosts=[REDIS_URL])
    system.start()
    clients: list[asyncio.subprocess.Process] = []
    others: list[asyncio.subprocess.Process] = []
    try:
        # Warm up: the first connection loads Django, the hub and the event.
        warm = await asyncio.create_subprocess_exec(
            PY, __file__, "--client", str(system.port), system.path, "1",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert warm.stdout is not None
        assert warm.stdin is not None
        others = [warm]  # stopped in `finally` too
        await warm.stdout.readline()
        base_rss = rss_kb(system.proc.pid)  # type: ignore[union-attr]
        started = time.monotonic()
        sizes = [PER_CLIENT] * (n // PER_CLIENT) + ([n % PER_CLIENT] if n % PER_CLIENT else [])
        for size in sizes:
            proc = await asyncio.create_subprocess_exec(
                PY, __file__, "--client", str(system.port), system.path, str(size),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**20,
            )  # fmt: skip
            clients.append(proc)
        connected = 0
        for proc in clients:
            line = (await asyncio.wait_for(proc.stdout.readline(), 300)).decode()  # type: ignore[union-attr]
            connected += int(line.split()[1])
        connect_s = time.monotonic() - started
        await asyncio.sleep(1.0)  # let the handshake garbage go before reading RSS
        rss_per_conn = (rss_kb(system.proc.pid) - base_rss) / max(connected, 1)  # type: ignore[union-attr]
        latencies: list[float] = []
        base = time.time_ns() // 1000  # µs: above the hub's own (ms-clock) versions
        for b in range(broadcasts):
            version = base + b
            sent = await system.publish(redis, layer, version)
            lasts: list[float] = []
            for proc in clients:
                while True:
                    line = await asyncio.wait_for(proc.stdout.readline(), 60)  # type: ignore[union-attr]
                    parts = line.decode().split()
                    if parts and parts[0] == "got" and int(parts[1]) == version:
                        lasts.append(float(parts[3]))
                        break
            latencies.append(max(lasts) - sent)
        lost = dups = 0
        for proc in clients:
            proc.stdin.write(b"stop\n")  # type: ignore[union-attr]
            while True:
                line = (await proc.stdout.readline()).decode()  # type: ignore[union-attr]
                if line.startswith("done "):
                    result = json.loads(line[5:])
                    got = {int(k): v for k, v in result["counts"].items()}
                    lost += sum(result["n"] - got.get(base + b, 0) for b in range(broadcasts))
                    dups += result["dups"]
                    break
        warm.stdin.write(b"stop\n")
        await warm.wait()
    finally:
        for proc in clients + others:
            if proc.returncode is None:
                proc.kill()
        system.stop()
        await redis.aclose()
    ms = sorted(x * 1000 for x in latencies)
    p99_index = min(len(ms) - 1, round(0.99 * (len(ms) - 1)))
    return {
        "sockets": connected,
        "connect_s": round(connect_s, 1),
        "deliveries_per_s": round(connected / statistics.mean(latencies)),
        "broadcast_p50_ms": round(statistics.median(ms), 1),
        "broadcast_p99_ms": round(ms[p99_index], 1),
        "broadcast_max_ms": round(ms[-1], 1),
        "rss_per_conn_kb": round(rss_per_conn, 1),
        "lost": lost,
        "duplicated": dups,
        "client_processes": len(clients),
    }


def systems(event_id: int) -> dict[str, System]:
    def uvicorn(port: int, *extra: str) -> list[str]:
        return [
            str(ROOT / ".venv/bin/uvicorn"), *extra, "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning", "--backlog", "4096",
        ]  # fmt: skip

    ports = {name: free_port() for name in ("live", "live_deflate", "bare", "naive")}
    live = ["config.asgi:application", "--ws-per-message-deflate"]
    return {
        "live": System(
            "live", uvicorn(ports["live"], *live, "false"), ports["live"],
            f"/ws/events/{SLUG}/", event_id,
        ),
        "live_deflate": System(
            "live_deflate", uvicorn(ports["live_deflate"], *live, "true"),
            ports["live_deflate"], f"/ws/events/{SLUG}/", event_id,
        ),
        "bare": System(
            "bare", [PY, __file__, "--bare", str(ports["bare"])], ports["bare"], "/", event_id
        ),
        "naive": System(
            "naive",
            uvicorn(ports["naive"], "bench.fanout:naive_application", "--factory",
                    "--ws-per-message-deflate", "false"),
            ports["naive"], "/ws/naive/", event_id,
        ),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--client", nargs=3, metavar=("PORT", "PATH", "COUNT"))
    parser.add_argument("--bare", type=int, metavar="PORT")
    parser.add_argument("--sockets", type=int, nargs="*")
    parser.add_argument("--only", nargs="*", help="systems to run (live, live_deflate, ...)")
    args = parser.parse_args()
    if args.client:
        asyncio.run(run_client("127.0.0.1", int(args.client[0]), args.client[1],
                               int(args.client[2])))  # fmt: skip
        return
    if args.bare:
        asyncio.run(run_bare(args.bare))
        return

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    most = soft - 500  # the server's own files: the database, Redis, the listening socket
    sizes = args.sockets or ([10_000] if args.quick else [10_000, most])
    broadcasts = 5 if args.quick else 20
    event_id = prepare_database()
    load = os.getloadavg()
    print(f"cpus={os.cpu_count()} server processes=1 per system ulimit_n={soft} "
          f"load_before={load[0]:.2f},{load[1]:.2f},{load[2]:.2f}")  # fmt: skip
    table: dict[str, dict[str, dict[str, float]]] = {}
    for n in sizes:
        # live and bare back to back: on a shared machine the load drifts, and their ratio
        # is the figure that matters.
        plan = ["live", "bare", "naive"]
        if not args.quick:
            plan.insert(2, "live_deflate")
        if n != sizes[0]:
            plan = ["live", "bare"]  # the naive baseline needs minutes at this size
        if args.only:
            plan = [name for name in plan if name in args.only]
        for name in plan:
            system = systems(event_id)[name]
            count = (2 if args.quick else 3) if name == "naive" else broadcasts
            row = asyncio.run(measure(system, n, count))
            table.setdefault(str(n), {})[name] = row
            print(f"N={n:>6} {name:<13} " + " ".join(f"{k}={v}" for k, v in row.items()),
                  flush=True)  # fmt: skip
    first = table[str(sizes[0])]
    if not {"live", "bare", "naive"} <= set(first):
        print(json.dumps({"bench": "fanout", "cpus": os.cpu_count(), "results": table}))
        return
    live, bare, naive = first["live"], first["bare"], first["naive"]
    results: dict[str, object] = {
        "sockets": live["sockets"],
        "deliveries_per_s": live["deliveries_per_s"],
        "broadcast_p50_ms": live["broadcast_p50_ms"],
        "broadcast_p99_ms": live["broadcast_p99_ms"],
        "broadcast_max_ms": live["broadcast_max_ms"],
        "rss_per_conn_kb": live["rss_per_conn_kb"],
        "bare_deliveries_per_s": bare["deliveries_per_s"],
        "naive_channels_deliveries_per_s": naive["deliveries_per_s"],
        "ratio_to_bare": round(live["deliveries_per_s"] / bare["deliveries_per_s"], 2),
        "ratio_to_naive": round(live["deliveries_per_s"] / naive["deliveries_per_s"], 1),
        "lost": sum(r["lost"] for rows in table.values() for r in rows.values()),
        "duplicated": sum(r["duplicated"] for rows in table.values() for r in rows.values()),
        "load_before": round(load[0], 2),
        "load_after": round(os.getloadavg()[0], 2),
        "by_size": table,
    }
    if "live_deflate" in first:
        results["deflate_rss_per_conn_kb"] = first["live_deflate"]["rss_per_conn_kb"]
        results["deflate_deliveries_per_s"] = first["live_deflate"]["deliveries_per_s"]
    print(json.dumps({"bench": "fanout", "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
