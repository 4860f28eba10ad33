"""The fundraising night on this machine, with the production stack of `make serve`.

    .venv/bin/python bench/showtime.py            # 20,000 sockets, 1,000 viewers, 50 gifts/s, 3 min
    .venv/bin/python bench/showtime.py --quick    # 4,000 sockets, 1,000 viewers, 50 gifts/s, 80 s

What runs, all on 127.0.0.1:
- its own Redis (redis-server on a free port, no persistence) and its own PostgreSQL database
  (`pc_bench_showtime` on the shared server, dropped and migrated afresh);
- the fake Stripe of the tests (tests/donations/fakestripe.py) in this process;
- the stack of `make serve` (config/stack.py, supervisord): nginx (front, edge, origin,
  RTMP), 2 web processes, Celery worker and beat, the stream worker and the transcoder;
- a live two-rendition test stream (streaming/teststream.py) pushed into the ingest through
  the front; in the middle of the night it is stopped and pushed again (an encoder reconnect);
- sockets: client processes (5,000 sockets each at most), each socket a browser-like client of
  /ws/events/<slug>/ through the front, reconnecting after a jittered, growing backoff as the
  page does; one in ten has an attendee cookie, votes once in the open poll and sends
  reactions every few seconds;
- HLS viewers through the front's edge (bench/edge.py's viewer processes, hls.js-like);
- donors: a process that starts gifts over HTTP (`/donations/events/<slug>/start/`, which
  creates the PaymentIntent at the fake Stripe) and confirms each with a signed
  `payment_intent.succeeded` webhook (retried as Stripe retries an answer that is not 2xx);
- a rolling restart of the web processes (`python -m config.stack rolling-restart`) in the
  middle of the night.

Baseline in the same run: a quiet phase first (the same sockets, no viewers, no engagement,
2 gifts/s): its broadcast and webhook p99 beside the night's; for the edge, the same audience
without it (every viewer request an origin request).

Figures: every gift in the ledger once (`lost`, `double_counted`), every socket's tally equal
to the ledger within 2 s of the last gift (`tally_converged`, `converge_p99_s`), broadcast p99
(one snapshot version from the first socket's receipt to the last's, first frames after a
connect left out), handshake failures outside the planned restart, edge hit ratio and origin
requests per segment, webhook p99, each supervised process's CPU and RSS (from /proc), Redis
commands/s (INFO on the bench's Redis), PostgreSQL transactions/s (pg_stat_database on the
bench's database); then the model for 50k, 190k and 1M viewers. The last line is one JSON
object (../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(sys.executable).parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB_NAME", "pc_bench_showtime")
PORTS = range(
    int(os.environ.get("BENCH_PORT_FIRST", "18900")), int(os.environ.get("BENCH_PORT_END", "19000"))
)
SECRET = "whsec_bench_showtime_0123456789"  # noqa: S105 -- a bench-only signing secret
SECRET_KEY = "bench-only-secret-key-showtime-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105
SLUG = "bench-showtime"
PER_CLIENT = 5_000  # sockets per client process (open files are capped at 20,000 a process)
ENGAGED_EVERY = 10  # one socket in ten votes and reacts
TARGET_DURATION = 2
CONVERGE_S = 2.0
CSRF = "c" * 32


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
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def pctl(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# --- sockets: browser-like live-room clients ---------------------------------------------------


class Sock(asyncio.Protocol):
    """One live-room socket: handshake offering permessage-deflate, the snapshots' version and
    raised read from the bytes, pings answered, engagement sent when asked."""

    def __init__(self, owner: SocketClient, index: int) -> None:
        self.owner, self.index = owner, index
        self.buf = bytearray()
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inflate: zlib._Decompress | None = None
        self.no_context = False
        self.transport: asyncio.Transport | None = None
        self.first = True  # the snapshot a connect gets is not a broadcast

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        o = self.owner
        key = base64.b64encode(os.urandom(16)).decode()
        cookie = o.cookies.get(self.index)
        extra = f"Cookie: pc_attendee={cookie}\r\n" if cookie else ""
        self.transport.write(
            (
                f"GET /ws/events/{o.slug}/ HTTP/1.1\r\nHost: 127.0.0.1:{o.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://127.0.0.1:{o.port}\r\n{extra}"
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError("closed during handshake"))
        else:
            self.owner.closed(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1").lower()
            del self.buf[: end + 4]
            if not head.startswith("http/1.1 101"):
                self.open.set_exception(ConnectionError(head.split("\r\n", 1)[0][:40]))
                return
            if "permessage-deflate" in head:
                self.inflate = zlib.decompressobj(-15)
                self.no_context = "server_no_context_takeover" in head
            self.open.set_result(None)
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
            if opcode == 9:
                self.send(payload, opcode=0xA)
            elif opcode in (1, 2):
                if b0 & 0x40 and self.inflate is not None:
                    payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
                    if self.no_context:
                        self.inflate = zlib.decompressobj(-15)
                self.owner.message(self, payload)

    def send(self, payload: bytes, opcode: int = 1) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        head = bytes([0x80 | opcode]) + (
            bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        )
        self.transport.write(head + b"\0\0\0\0" + payload)  # mask key 0: the payload as is


def _int_after(payload: bytes, key: bytes) -> int | None:
    at = payload.find(key)
    if at < 0:
        return None
    start = end = at + len(key)
    while end < len(payload) and payload[end] in b"0123456789":
        end += 1
    return int(payload[start:end]) if end > start else None


class SocketClient:
    """`count` sockets of one client process; reports on stdin's "stop"."""

    def __init__(self, port: int, slug: str, count: int, first: int, poll: dict | None,
                 cookies: dict[int, str]) -> None:  # fmt: skip
        self.port, self.slug, self.count, self.first, self.poll = port, slug, count, first, poll
        self.cookies = cookies
        self.raised: dict[int, int] = {}  # socket index -> last raised
        self.raised_at: dict[int, float] = {}  # when it last changed
        self.versions: dict[int, list[float]] = {}  # version -> [n, first, last]
        self.handshakes: list[tuple[float, str]] = []  # failures: (monotonic, why)
        self.opened = 0
        self.closes: list[float] = []
        self.acks: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.votes_sent = 0
        self.reacts_sent = 0
        self.voted: set[int] = set()
        self.engage = False
        self.stopping = False
        self.live: dict[int, Sock] = {}
        self.gate = asyncio.Semaphore(64)

    def message(self, sock: Sock, payload: bytes) -> None:
        if payload.startswith(b'{"type"') or b'"type":"' in payload[:40]:
            if b'"type":"ack"' in payload:
                self.acks[payload[payload.find(b'"for":"') + 7 :].split(b'"', 1)[0].decode()] += 1
            elif b'"type":"error"' in payload:
                self.errors[
                    payload[payload.find(b'"code":"') + 8 :].split(b'"', 1)[0].decode()
                ] += 1
            return
        version = _int_after(payload, b'"version":')
        if version is None:
            return
        now = time.monotonic()
        raised = _int_after(payload, b'"raised":')
        if raised is not None and raised != self.raised.get(sock.index):
            self.raised[sock.index] = raised
            self.raised_at[sock.index] = now
        if sock.first:
            sock.first = False
            return
        entry = self.versions.get(version)
        if entry is None:
            self.versions[version] = [1, now, now]
        else:
            entry[0] += 1
            entry[2] = max(entry[2], now)

    def closed(self, sock: Sock) -> None:
        self.live.pop(sock.index, None)
        if not self.stopping:
            self.closes.append(time.monotonic())
            asyncio.get_running_loop().create_task(self.connect(sock.index, reconnect=True))

    async def connect(self, index: int, reconnect: bool = False) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.5
        while not self.stopping:
            if reconnect:  # the page's backoff: jittered, growing, capped
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 8)
            reconnect = True
            async with self.gate:
                try:
                    _, sock = await loop.create_connection(
                        lambda: Sock(self, index), "127.0.0.1", self.port
                    )
                    await asyncio.wait_for(sock.open, 30)
                except (OSError, TimeoutError, ConnectionError) as failed:
                    self.handshakes.append((time.monotonic(), str(failed)[:40] or "error"))
                    continue
            self.opened += 1
            self.live[index] = sock
            return

    async def engagement(self) -> None:
        """Once engaged: each engaged socket votes once, at a moment of the poll's first 30 s,
        and sends a reaction every ~4 s."""
        vote_at: dict[int, float] = {}
        while not self.stopping:
            await asyncio.sleep(1)
            if not self.engage:
                continue
            now = time.monotonic()
            for index, sock in list(self.live.items()):
                if index not in self.cookies:
                    continue
                if self.poll and index not in self.voted:
                    at = vote_at.setdefault(index, now + random.uniform(0, 30))
                    if now >= at:
                        self.voted.add(index)
                        options = self.poll["options"]
                        body = {"type": "vote", "poll": self.poll["id"],
                                "option": options[index % len(options)], "ref": 1}  # fmt: skip
                        sock.send(json.dumps(body).encode())
                        self.votes_sent += 1
                        continue
                if random.random() < 0.25:
                    sock.send(b'{"type":"react","counts":{"heart":1}}')
                    self.reacts_sent += 1

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(self.connect(self.first + i) for i in range(self.count)))
        print(f"ready {len(self.live)}", flush=True)
        pump = asyncio.ensure_future(self.engagement())
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode().strip()
            if line == "engage":
                self.engage = True
            elif line == "calm":
                self.engage = False
            elif line.startswith("count "):
                value = int(line.split()[1])
                on = sum(1 for i in range(self.count) if self.raised.get(self.first + i) == value)
                print(f"count {on}", flush=True)
            elif line in ("stop", ""):
                break
        self.stopping = True
        pump.cancel()
        report = {
            "n": self.count, "open": len(self.live), "opened": self.opened,
            "raised": [self.raised.get(self.first + i) for i in range(self.count)],
            "raised_at": [self.raised_at.get(self.first + i) for i in range(self.count)],
            "versions": self.versions, "handshake_failures": self.handshakes,
            "closes": self.closes, "acks": self.acks, "errors": self.errors,
            "votes_sent": self.votes_sent, "reacts_sent": self.reacts_sent,
        }  # fmt: skip
        print("done " + json.dumps(report), flush=True)
        for sock in list(self.live.values()):
            if sock.transport is not None:
                sock.transport.close()


def run_sockets(args: argparse.Namespace) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    setup = json.loads(Path(args.setup).read_text())
    cookies = {int(k): v for k, v in setup["cookies"].items()}
    client = SocketClient(args.port, setup["slug"], args.count, args.first, setup["poll"], cookies)
    asyncio.run(client.run())


# --- donors: gifts started over HTTP, confirmed by signed webhooks -----------------------------


async def _request(port: int, method: str, path: str, headers: dict[str, str],
                   body: bytes) -> tuple[int, bytes]:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        answer = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    head, _, rest = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    if b"transfer-encoding: chunked" in head.lower():
        out, data = bytearray(), rest
        while data:
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out += data[:size]
            data = data[size + 2 :]
        rest = bytes(out)
    return status, rest


def sign(body: bytes, secret: str) -> str:
    stamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


async def donors(port: int, slug: str, token: str, rate: float, seconds: float, first: int,
                 out: str) -> None:  # fmt: skip
    starts: Counter[int] = Counter()
    hooks: Counter[int] = Counter()
    start_lat: list[float] = []
    hook_lat: list[float] = []
    gifts: list[list] = []  # [donation_id, amount, confirmed, answered_at]
    failed_starts: list[tuple[float, int]] = []

    async def gift(i: int) -> None:
        amount = 1_000 + (i * 37) % 9_000
        body = json.dumps({
            "attempt_key": str(uuid.uuid4()), "page_token": token, "amount_minor": amount,
            "currency": "usd", "cover_fees": False, "email": f"night{i}@example.com",
            "first_name": "Night", "last_name": f"Donor{i}", "attestations": [],
        }).encode()  # fmt: skip
        headers = {"Content-Type": "application/json", "Cookie": f"csrftoken={CSRF}",
                   "X-CSRFToken": CSRF, "Referer": f"http://127.0.0.1:{port}/"}  # fmt: skip
        started = time.monotonic()
        try:
            status, answer = await _request(port, "POST", f"/donations/events/{slug}/start/",
                                            headers, body)  # fmt: skip
        except (OSError, TimeoutError, ValueError, IndexError):
            status, answer = 0, b""
        start_lat.append(time.monotonic() - started)
        starts[status] += 1
        if status != 200:
            failed_starts.append((started, status))
            return
        data = json.loads(answer)
        donation_id, intent = data["donation_id"], data["client_secret"].split("_secret_")[0]
        charged = data["amount_minor"]
        record = [donation_id, charged, False, 0.0]
        gifts.append(record)
        event = json.dumps({
            "id": f"evt_night_{donation_id}", "object": "event",
            "api_version": "2026-10-28.endive", "created": int(time.time()),
            "type": "payment_intent.succeeded",
            "data": {"object": {
                "id": intent, "object": "payment_intent", "amount": charged,
                "amount_received": charged, "currency": "usd",
                "latest_charge": f"ch_night_{donation_id}",
                "metadata": {"donation_id": str(donation_id)}, "status": "succeeded",
            }},
        }).encode()  # fmt: skip
        for attempt in range(6):  # Stripe retries an answer that is not 2xx (here, briefly)
            if attempt and time.monotonic() > began + seconds + 15:
                break
            sent = time.monotonic()
            try:
                status, _ = await _request(
                    port, "POST", "/donations/webhooks/stripe/",
                    {"Content-Type": "application/json", "Stripe-Signature": sign(event, SECRET)},
                    event,
                )  # fmt: skip
            except (OSError, TimeoutError, ValueError, IndexError):
                status = 0
            hook_lat.append(time.monotonic() - sent)
            hooks[status] += 1
            if 200 <= status < 300:
                record[2], record[3] = True, time.monotonic()
                return
            await asyncio.sleep(0.5 * (attempt + 1))

    tasks = []
    began = time.monotonic()
    i = 0
    while time.monotonic() - began < seconds:
        due = began + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.ensure_future(gift(first + i)))
        i += 1
    await asyncio.gather(*tasks)
    Path(out).write_text(json.dumps({
        "sent": i, "starts": starts, "hooks": hooks, "gifts": gifts,
        "start_p50_ms": pctl(start_lat, 0.5) * 1000, "start_p99_ms": pctl(start_lat, 0.99) * 1000,
        "webhook_p50_ms": pctl(hook_lat, 0.5) * 1000,
        "webhook_p99_ms": pctl(hook_lat, 0.99) * 1000, "failed_starts": failed_starts,
        "elapsed": time.monotonic() - began,
    }))  # fmt: skip


def run_donors(args: argparse.Namespace) -> None:
    setup = json.loads(Path(args.setup).read_text())
    asyncio.run(donors(args.port, setup["slug"], setup["page_token"], args.rate, args.seconds,
                       args.first, args.out))  # fmt: skip


# --- the supervised processes' CPU and RSS, from /proc -----------------------------------------


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, utime + stime in ticks, RSS kB) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        rss_pages = int(fields[21])
    except (OSError, IndexError, ValueError):
        return None
    return (
        int(fields[1]),
        int(fields[11]) + int(fields[12]),
        rss_pages * os.sysconf("SC_PAGE_SIZE") // 1024,
    )


def _program(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in argv)
    if "config.serve" in text:
        return "web_" + argv[argv.index(b"--port") + 1].decode() if b"--port" in argv else "web"
    for name in ("worker", "beat"):
        if f"celery -A config {name}" in text or f"config {name}" in text:
            return name
    for name in ("stream_worker", "transcoder"):
        if name in text:
            return name
    return "nginx" if "nginx" in text else Path(argv[0].decode(errors="replace")).name


class Sampler:
    """Every second: the supervisor's children and their descendants, CPU ticks per pid (a
    restarted web process's new pid counts from 0) and the RSS of each program's tree."""

    def __init__(self, supervisord_pid: int) -> None:
        self.root = supervisord_pid
        self.start_ticks: dict[int, int] = {}
        self.last_ticks: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.rss: dict[str, int] = {}
        self.rss_peak: dict[str, int] = {}
        self.begun = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tree(self) -> dict[int, tuple[str, int, int]]:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                got = _stat(int(entry))
                if got is not None:
                    stats[int(entry)] = got
        out: dict[int, tuple[str, int, int]] = {}
        top = [pid for pid, (ppid, _, _) in stats.items() if ppid == self.root]
        for pid in top:
            name = self.names.get(pid) or _program(pid)
            self.names[pid] = name
            todo = [pid]
            while todo:
                p = todo.pop()
                out[p] = (name, stats[p][1], stats[p][2])
                todo += [c for c, (pp, _, _) in stats.items() if pp == p]
        return out

    def sample(self, first: bool = False) -> None:
        rss: Counter[str] = Counter()
        for pid, (name, ticks, kb) in self.tree().items():
            if first:
                self.start_ticks[pid] = ticks
            self.last_ticks[pid] = ticks
            self.names.setdefault(pid, name)
            self.names[pid] = name
            rss[name] += kb
        self.rss = dict(rss)
        for name, kb in rss.items():
            self.rss_peak[name] = max(self.rss_peak.get(name, 0), kb)

    def start(self) -> None:
        self.sample(first=True)
        self.begun = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.sample()

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        seconds = time.monotonic() - self.begun
        tick = os.sysconf("SC_CLK_TCK")
        cpu: Counter[str] = Counter()
        for pid, ticks in self.last_ticks.items():
            cpu[self.names[pid]] += ticks - self.start_ticks.get(pid, 0)
        return {
            name: {"cpu_pct": round(100 * cpu[name] / tick / seconds, 1),
                   "rss_mb": round(self.rss.get(name, 0) / 1024, 1),
                   "rss_peak_mb": round(self.rss_peak.get(name, 0) / 1024, 1)}
            for name in sorted(set(cpu) | set(self.rss))
        }  # fmt: skip


# --- the orchestrator --------------------------------------------------------------------------


class Started:
    """Everything the bench starts, stopped in reverse order (also on Ctrl-C or an error)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen, timeout: float = 60) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


def wait_until(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


def healthz(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError as answer:
        with contextlib.suppress(ValueError):
            return json.load(answer)
        return None
    except (OSError, ValueError):
        return None


def all_green(port: int) -> bool:
    body = healthz(port)
    roles = {"web", "worker", "beat", "stream_worker", "transcoder"}
    return bool(body) and body.get("status") == "ok" and set(body.get("processes", {})) >= roles


def http_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def stack_env(redis_url: str, media: Path, fake_stripe: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "ALLOW_SIMULATED_PAYMENTS": "0",
        "STRIPE_SECRET_KEY": "sk_test_bench_showtime",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_bench_showtime",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_API_BASE": fake_stripe,
        "DONATION_STARTS_PER_IP": "1000000",
        "DONATION_STARTS_PER_EMAIL": "1000",
        # Every simulated viewer comes from this machine's one address.
        "LIVE_SEATS_PER_ADDRESS_PERCENT": "0",
        "MEDIA_ROOT": str(media),
        "STATIC_ROOT": str(media.parent / "static"),
        "HLS_TARGET_DURATION": str(TARGET_DURATION),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }


def prepare(env: dict[str, str], sockets: int) -> dict:
    """A fresh database: a live event (the 50,000 tier), its stream, an open poll, the
    engaged sockets' attendee cookies and the donate panel's page token."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    # As `make serve` does: nginx serves /static/, and the pages (error pages too) name them.
    subprocess.run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env,
                   check=True)  # fmt: skip
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from donations.defence import issue_page_token
    from engagement import polls
    from events.models import Campaign, CapacityTier, Event
    from liveroom import attendees
    from streaming import services

    campaign = Campaign.objects.create(name="Bench", slug="bench", legal_name="Bench PAC")
    now = timezone.now()
    event = Event.objects.create(
        campaign=campaign, title="Showtime", slug=SLUG, starts_at=now,
        ends_at=now + timedelta(hours=3), goal_minor=10**10, status="live",
        capacity_tier=CapacityTier.objects.order_by("-max_attendees").first(),
    )  # fmt: skip
    stream, key = services.create_stream(event_id=event.pk)
    poll = polls.create_poll(event_id=event.pk, question="Which issue first?",
                             options=["Schools", "Roads", "Parks"], by_user_id=None)  # fmt: skip
    polls.run_poll(event_id=event.pk, poll_id=poll.pk, action="open", by_user_id=None)
    signer = attendees._signer()
    cookies = {i: signer.sign(f"bench{i:06d}") for i in range(0, sockets, ENGAGED_EVERY)}
    return {
        "event_id": event.pk, "slug": SLUG, "public_id": stream.public_id, "key": key,
        "page_token": issue_page_token(event_id=event.pk), "cookies": cookies,
        "poll": {"id": poll.pk, "options": list(poll.options.values_list("pk", flat=True))},
    }  # fmt: skip


def ledger(event_id: int, gifts: list[list]) -> dict:
    from django.db import connections
    from django.db.models import Count, Sum

    from donations.models import Donation, ProviderEvent
    from donations.selectors import event_tally, ledger_tally
    from engagement.models import PollVote

    connections.close_all()
    confirmed = {g[0]: g[1] for g in gifts if g[2]}
    succeeded = dict(
        Donation.objects.filter(event_id=event_id, status="succeeded").values_list(
            "pk", "net_minor"
        )
    )
    applied = Counter(
        ProviderEvent.objects.exclude(applied_at=None)
        .filter(event_id__startswith="evt_night_")
        .values_list("event_id", flat=True)
    )
    tally = event_tally(event_id=event_id)
    book = ledger_tally(event_id=event_id)
    votes = PollVote.objects.values("poll_id", "voter").annotate(n=Count("pk")).filter(n__gt=1)
    return {
        "confirmed": len(confirmed),
        "succeeded": len(succeeded),
        "lost": sum(1 for pk in confirmed if pk not in succeeded),
        "double_counted": max(0, tally.donations - len(succeeded))
        + sum(n - 1 for n in applied.values() if n > 1),
        "tally_equals_ledger": (tally.raised_minor, tally.donations)
        == (book.raised_minor, book.donations)
        and book.raised_minor
        == (Donation.objects.filter(event_id=event_id, status="succeeded")
            .aggregate(s=Sum("net_minor"))["s"] or 0),
        "raised": book.raised_minor,
        "votes_counted": PollVote.objects.count(),
        "double_votes": votes.count(),
    }  # fmt: skip


def redis_commands(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).info("stats")["total_commands_processed"])


def pg_xacts() -> int:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            [DB_NAME],
        ).fetchone()
    return int(row[0]) if row else 0


def stop_line(procs: list[subprocess.Popen], line: str) -> None:
    for proc in procs:
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(line + "\n")
            proc.stdin.flush()


def read_tagged(proc: subprocess.Popen, tag: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a socket client exited before '{tag}'")
        if line.startswith(tag + " "):
            return line[len(tag) + 1 :]
    raise RuntimeError(f"no '{tag}' from a socket client")


def donor_run(port: int, setup_file: Path, rate: float, seconds: float, first: int,
              out: Path) -> subprocess.Popen:  # fmt: skip
    return subprocess.Popen([PY, __file__, "--role", "donors", "--port", str(port), "--setup",
                             str(setup_file), "--rate", str(rate), "--seconds", str(seconds),
                             "--first", str(first), "--out", str(out)])  # fmt: skip


def night_args(quick: bool) -> dict:
    return {"sockets": 4_000 if quick else 20_000, "viewers": 1_000, "rate": 50.0,
            "seconds": 80 if quick else 180, "quiet_s": 10 if quick else 20}  # fmt: skip


def bench(args: argparse.Namespace) -> None:
    plan = night_args(args.quick)
    for key in ("sockets", "viewers", "rate", "seconds"):
        if getattr(args, key) is not None:
            plan[key] = getattr(args, key)
    tmp = Path(tempfile.mkdtemp(prefix="pc-bench-showtime-"))
    taken: set[int] = set()
    ports = {name: free_port(taken) for name in ("redis", "front", "lb", "origin", "edge", "rtmp")}
    web_port = next(p for p in PORTS if not {p, p + 1} & taken and _two_free(p))
    taken |= {web_port, web_port + 1}
    started = Started()
    supervisord: subprocess.Popen | None = None
    fake = None
    sampler = None
    t0 = time.monotonic()
    print(f"cpus={os.cpu_count()} load before: {os.getloadavg()}; run dir {tmp}", flush=True)
    try:
        redis_url = f"redis://127.0.0.1:{ports['redis']}/0"
        started.start(["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", "no", "--maxclients", "10000",
                       "--dir", str(tmp)], stdout=subprocess.DEVNULL)  # fmt: skip
        sys.path.insert(0, str(ROOT))
        from tests.donations.fakestripe import FakeStripe  # the one fake of Stripe's API

        fake = FakeStripe()
        fake.start()
        fake._server.socket.listen(1024)  # http.server's backlog of 5 is the fake's limit
        media = tmp / "media"
        media.mkdir()
        env = stack_env(redis_url, media, fake.url)
        setup = prepare(env, plan["sockets"])
        setup_file = tmp / "setup.json"
        setup_file.write_text(json.dumps(setup))
        run = tmp / "run"
        subprocess.run(
            [PY, "-m", "config.stack", "conf", "--dir", str(run),
             "--listen", f"127.0.0.1:{ports['front']}", "--lb", f"127.0.0.1:{ports['lb']}",
             "--origin", f"127.0.0.1:{ports['origin']}", "--edge", f"127.0.0.1:{ports['edge']}",
             "--rtmp", f"127.0.0.1:{ports['rtmp']}", "--web-port", str(web_port),
             "--web-count", "2", "--worker-concurrency", "1"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        # The origin's access log: the bench counts the edge's requests to it there.
        origin_log = run / "nginx" / "origin_access.log"
        conf = run / "nginx" / "origin.conf"
        conf.write_text(conf.read_text().replace(
            "server_name _;", f"server_name _;\n    access_log {origin_log};", 1))  # fmt: skip
        supervisord = started.start([str(BIN / "supervisord"), "-c", str(run / "supervisord.conf")],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)  # fmt: skip
        front = ports["front"]
        wait_until(lambda: all_green(front), 180, "every part of the stack green", supervisord)
        webs = len((healthz(front) or {})["processes"]["web"])
        print(f"stack green after {time.monotonic() - t0:.0f} s: {webs} web processes", flush=True)
        from streaming import teststream

        ingest = f"http://127.0.0.1:{front}/streaming/ingest/{setup['public_id']}"

        def push() -> subprocess.Popen:
            return started.start(teststream.push_command(
                ingest_url=ingest, key=setup["key"], target_duration=TARGET_DURATION,
                renditions=2), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

        pusher = push()
        master = f"/live/{setup['public_id']}/master.m3u8"
        wait_until(lambda: http_ok(front, master), 60, "the live stream through the front")

        # The sockets, spread by nginx over the web processes.
        clients = []
        per_client = min(PER_CLIENT, -(-plan["sockets"] // 2))
        for first in range(0, plan["sockets"], per_client):
            count = min(per_client, plan["sockets"] - first)
            clients.append(started.start(
                [PY, __file__, "--role", "sockets", "--port", str(front), "--setup",
                 str(setup_file), "--count", str(count), "--first", str(first)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            ))  # fmt: skip
        opened = sum(int(read_tagged(c, "ready", 300)) for c in clients)
        print(f"sockets open: {opened} of {plan['sockets']} in {len(clients)} client processes "
              f"({time.monotonic() - t0:.0f} s)", flush=True)  # fmt: skip

        # The quiet baseline: the same sockets, 2 gifts/s, nothing else.
        quiet_out = tmp / "quiet.json"
        mark_quiet = time.monotonic()
        donor_run(front, setup_file, 2, plan["quiet_s"], 0, quiet_out).wait()
        quiet_end = time.monotonic()
        time.sleep(3)

        # The night.
        load_night = os.getloadavg()
        sampler = Sampler(supervisord.pid)
        sampler.start()
        cmds0, xacts0 = redis_commands(redis_url), pg_xacts()
        import resource

        own0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        night_start = time.monotonic()
        seconds = plan["seconds"]
        stop_line(clients, "engage")
        viewer_outs = [tmp / f"viewers-{i}.json" for i in range(2)]
        per = -(-plan["viewers"] // 2)
        viewers = [subprocess.Popen([
            PY, str(ROOT / "bench" / "edge.py"), "--role", "viewers", "--port", str(front),
            "--master", master, "--count", str(min(per, plan["viewers"] - i * per)),
            "--seconds", str(seconds), "--first", str(i * per), "--out", str(out)])
            for i, out in enumerate(viewer_outs)]  # fmt: skip
        gift_seconds = seconds - 12
        night_out = tmp / "night.json"
        donor = donor_run(front, setup_file, plan["rate"], gift_seconds, 1_000_000, night_out)
        events: dict[str, float] = {}
        # An encoder reconnect early in the night.
        time.sleep(max(0.0, night_start + seconds * 0.15 - time.monotonic()))
        events["encoder_stop"] = time.monotonic() - night_start
        started.stop(pusher)
        time.sleep(2)
        pusher = push()
        events["encoder_back"] = time.monotonic() - night_start
        # A rolling restart of the web processes (it takes a while: each process must be back).
        time.sleep(max(0.0, night_start + seconds * 0.3 - time.monotonic()))
        restart_from = time.monotonic()
        restart = subprocess.run(
            [PY, "-m", "config.stack", "rolling-restart", "--dir", str(run), "--web-port",
             str(web_port), "--web-count", "2", "--timeout", "90"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        restart_to = time.monotonic()
        events["restart_from"] = restart_from - night_start
        events["restart_to"] = restart_to - night_start
        print(f"rolling restart: exit {restart.returncode} in {restart_to - restart_from:.1f} s "
              f"at {events['restart_from']:.0f} s of the night", flush=True)  # fmt: skip
        donor.wait()
        gifts_end = time.monotonic()
        night = json.loads(night_out.read_text())
        last_answer = max((g[3] for g in night["gifts"] if g[2]), default=gifts_end)
        # The ledger's final tally, then let the sockets converge (we judge by their times).
        ledger_deadline = time.monotonic() + 30
        from django.db import connections

        from donations.models import Donation

        confirmed_ids = [g[0] for g in night["gifts"] if g[2]]
        while time.monotonic() < ledger_deadline:
            connections.close_all()
            done = Donation.objects.filter(pk__in=confirmed_ids, status="succeeded").count()
            if done >= len(confirmed_ids):
                break
            time.sleep(0.2)
        # Then wait (30 s at most) until every socket shows the ledger's tally: the figures
        # are each socket's time of reaching it, measured from the last gift's answer.
        final_raised = Donation.objects.filter(event_id=setup["event_id"], status="succeeded")
        final_raised = sum(final_raised.values_list("net_minor", flat=True))
        tally_deadline = max(time.monotonic(), last_answer + CONVERGE_S) + 30
        while time.monotonic() < tally_deadline:
            stop_line(clients, f"count {final_raised}")
            on = sum(int(read_tagged(c, "count", 60)) for c in clients)
            if on >= opened:
                break
            time.sleep(0.5)
        stop_line(clients, "calm")
        for proc in viewers:
            proc.wait()
        night_end = time.monotonic()
        cmds1, xacts1 = redis_commands(redis_url), pg_xacts()
        processes = sampler.stop()
        sampler = None
        load_after = os.getloadavg()
        stop_line(clients, "stop")
        reports = [json.loads(read_tagged(c, "done", 120)) for c in clients]
        for client in clients:
            client.wait(60)
        started.stop(pusher)
        own1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # viewers, donors, sockets, ffmpeg
        quiet = json.loads(quiet_out.read_text())
        book = ledger(setup["event_id"], quiet["gifts"] + night["gifts"])
        origin_lines = origin_log.read_text().splitlines() if origin_log.exists() else []
        cache: Counter[str] = Counter()
        viewer_requests = viewer_errors = 0
        seg_lat: list[float] = []
        for out in viewer_outs:
            part = json.loads(out.read_text())
            cache.update(part["cache"])
            viewer_requests += part["requests"]
            viewer_errors += part["errors"]
            seg_lat += part["latency"]["segment"]
    finally:
        if sampler is not None:
            sampler.stop()
        if supervisord is not None and supervisord.poll() is None:
            os.killpg(supervisord.pid, signal.SIGTERM)
            try:
                supervisord.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(supervisord.pid, signal.SIGKILL)
        started.stop_all()
        if fake is not None:
            fake.stop()
        if args.keep:
            print(f"kept: {tmp} (logs under run/logs, nginx/)", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    # --- figures ---------------------------------------------------------------------------
    night_s = night_end - night_start
    # Sockets: tallies, convergence, broadcasts, handshakes.
    raised = [r for rep in reports for r in rep["raised"]]
    raised_at = [t for rep in reports for t in rep["raised_at"]]
    final = book["raised"]
    on_tally = sum(1 for r in raised if r == final)
    converge = [max(0.0, (t or 0) - last_answer) for r, t in zip(raised, raised_at, strict=True)
                if r == final]  # fmt: skip
    stale = Counter(r for r in raised if r != final)
    converged = on_tally == len(raised) and max(converge, default=99) <= CONVERGE_S
    versions: dict[int, list[float]] = {}
    for rep in reports:
        for v, (n, first, last) in rep["versions"].items():
            e = versions.setdefault(int(v), [0, first, last])
            e[0] += n
            e[1], e[2] = min(e[1], first), max(e[2], last)
    in_quiet = [(e[2] - e[1]) * 1000 for e in versions.values()
                if mark_quiet <= e[1] <= quiet_end + 2]  # fmt: skip
    in_night = [(e[2] - e[1]) * 1000 for e in versions.values() if e[1] >= night_start]
    calm = [(e[2] - e[1]) * 1000 for e in versions.values()
            if e[1] >= night_start and not restart_from - 5 <= e[1] <= restart_to + 20]  # fmt: skip
    planned = (restart_from, restart_to + 20)  # the backoff's reconnects after the last restart
    failures = [(t, why) for rep in reports for t, why in rep["handshake_failures"]]
    outside = [f for f in failures if not planned[0] <= f[0] <= planned[1]]
    closes = [t for rep in reports for t in rep["closes"]]
    closes_outside = [t for t in closes if not planned[0] <= t <= planned[1]]
    acks: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for rep in reports:
        acks.update(rep["acks"])
        errors.update(rep["errors"])
    votes_sent = sum(rep["votes_sent"] for rep in reports)
    reacts_sent = sum(rep["reacts_sent"] for rep in reports)
    # Edge.
    hits = sum(n for s, n in cache.items() if s in ("HIT", "STALE", "UPDATING", "REVALIDATED"))
    requested = [line.split('"')[1].split() for line in origin_lines if line.count('"') >= 2]
    origin_paths = Counter(words[1].split("?")[0] for words in requested if len(words) > 1)
    segments = {p: n for p, n in origin_paths.items() if p.endswith(".ts")}
    origin_requests = sum(origin_paths.values())
    # Donations.
    confirmed = sum(1 for g in night["gifts"] if g[2])
    statuses = {"starts": night["starts"], "webhooks": night["hooks"]}
    failed_outside = [s for s in night["failed_starts"] if not planned[0] <= s[0] <= planned[1]]
    web = {k: v for k, v in processes.items() if k.startswith("web")}
    web_cpu = sum(v["cpu_pct"] for v in web.values())
    results = {
        "cpus": os.cpu_count(), "loadavg_before_night": round(load_night[0], 2),
        "loadavg_after_night": round(load_after[0], 2), "night_s": round(night_s, 1),
        "web_processes": 2, "sockets": plan["sockets"], "sockets_open": opened,
        "socket_client_processes": len(clients), "viewers": plan["viewers"],
        "gift_rate_per_s": plan["rate"], "gifts_sent": night["sent"], "gifts_confirmed": confirmed,
        "gifts_per_s": round(confirmed / max(1e-9, night["elapsed"]), 1),
        # Paid at the (fake) Stripe, its webhook never answered 2xx within the bench's retries.
        "unconfirmed_after_retries": night["starts"].get("200", 0) - confirmed,
        "start_statuses": statuses["starts"], "webhook_statuses": statuses["webhooks"],
        "failed_starts_outside_restart": len(failed_outside),
        "lost": book["lost"], "double_counted": book["double_counted"],
        "tally_equals_ledger": book["tally_equals_ledger"],
        "handshake_failures": len(outside),
        "handshake_failures_in_restart": len(failures) - len(outside),
        "disconnects_outside_restart": len(closes_outside),
        "disconnects_in_restart": len(closes) - len(closes_outside),
        "sockets_on_final_tally": on_tally,
        "stale_tallies": {str(k): v for k, v in stale.most_common(3)}, "tally_converged": converged,
        "converge_p50_s": round(pctl(converge, 0.5), 3),
        "converge_p99_s": round(pctl(converge, 0.99), 3),
        "converge_max_s": round(max(converge, default=0.0), 3),
        "broadcasts": len(in_night),
        "broadcast_p50_ms": round(pctl(in_night, 0.5), 1),
        "broadcast_p99_ms": round(pctl(in_night, 0.99), 1),
        "quiet_broadcast_p99_ms": round(pctl(in_quiet, 0.99), 1),
        "broadcast_p99_ms_outside_restart": round(pctl(calm, 0.99), 1),
        "webhook_p50_ms": round(night["webhook_p50_ms"], 1),
        "webhook_p99_ms": round(night["webhook_p99_ms"], 1),
        "quiet_webhook_p99_ms": round(quiet["webhook_p99_ms"], 1),
        "quiet_start_p50_ms": round(quiet["start_p50_ms"], 1),
        "quiet_start_p99_ms": round(quiet["start_p99_ms"], 1),
        "start_p99_ms": round(night["start_p99_ms"], 1),
        "votes_sent": votes_sent, "votes_acked": acks.get("vote", 0),
        "votes_counted": book["votes_counted"], "double_votes": book["double_votes"],
        "reactions_sent": reacts_sent, "socket_errors": dict(errors),
        "viewer_requests": viewer_requests, "viewer_errors": viewer_errors,
        "viewer_segment_p99_ms": round(pctl(seg_lat, 0.99) * 1000, 1),
        "origin_requests": origin_requests,
        "edge_hit_ratio": round(hits / max(1, viewer_requests), 5),
        "origin_requests_per_viewer_request": round(origin_requests / max(1, viewer_requests), 5),
        "distinct_segments": len(segments),
        # The live stream's own health: 2 renditions, one segment per target duration each.
        "stream_realtime": round(len(segments) / (2 * night_s / TARGET_DURATION), 2),
        "origin_requests_per_segment": round(sum(segments.values()) / max(1, len(segments)), 2),
        "max_origin_fetches_per_segment": max(segments.values(), default=0),
        "redis_cmds_per_s": round((cmds1 - cmds0) / night_s, 1),
        "pg_xacts_per_s": round((xacts1 - xacts0) / night_s, 1),
        "web_cpu_pct": round(web_cpu, 1),
        "bench_clients_cpu_pct": round(
            100 * (own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime) / night_s, 1
        ),
        "processes": processes, "events_s": {k: round(v, 1) for k, v in events.items()},
        "rolling_restart_exit": restart.returncode,
    }  # fmt: skip
    results["model"] = model(results)
    report(results)


def _two_free(port: int) -> bool:
    for p in (port, port + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


# --- the model --------------------------------------------------------------------------------

WEB_CORE_BUDGET = 0.7  # a web process kept under 70 % of its core
SOCKETS_PER_WEB_CAP = 10_000  # measured by bench/fanout.py on one process
EGRESS_MBIT_PER_VIEWER = 2.1  # the adaptive mix (deploy/README.md, "Numbers for one million")
EDGE_BOX_GBIT = 20


def model(r: dict) -> dict:
    """Linear in viewers from the night's measured inputs: each viewer one socket and one HLS
    session; gifts, votes and reactions per viewer as in the night."""
    sockets = max(1, r["sockets_open"])
    per_socket_core = r["web_cpu_pct"] / 100 / sockets
    out = {}
    for viewers in (50_000, 190_000, 1_000_000):
        cores = viewers * per_socket_core
        web = max(math.ceil(cores / WEB_CORE_BUDGET), math.ceil(viewers / SOCKETS_PER_WEB_CAP))
        scale = viewers / sockets
        egress = viewers * EGRESS_MBIT_PER_VIEWER / 1_000  # Gbit/s
        out[str(viewers)] = {
            "web_processes": web,
            "web_cores": round(cores, 1),
            "gifts_per_s": round(r["gifts_per_s"] * scale, 0),
            "redis_cmds_per_s": round(r["redis_cmds_per_s"] * scale, 0),
            "pg_xacts_per_s": round(r["pg_xacts_per_s"] * scale, 0),
            "edge_requests_per_s": round(
                r["viewer_requests"] / r["night_s"] / r["viewers"] * viewers, 0
            ),
            "edge_egress_gbit_s": round(egress, 1),
            "edge_boxes": math.ceil(egress / EDGE_BOX_GBIT),
        }
    return out


def report(r: dict) -> None:
    rows = [
        ("machine", f"{r['cpus']} cpus, load {r['loadavg_before_night']} before the night, "
                    f"{r['loadavg_after_night']} after"),
        ("night", f"{r['night_s']} s: {r['sockets_open']} sockets ({r['socket_client_processes']} "
                  f"client processes) over {r['web_processes']} web processes, {r['viewers']} "
                  f"HLS viewers, {r['gift_rate_per_s']} gifts/s asked"),
        ("events (s into the night)", r["events_s"]),
        ("gifts", f"{r['gifts_sent']} started, {r['gifts_confirmed']} confirmed "
                  f"({r['gifts_per_s']}/s); starts {r['start_statuses']}, "
                  f"webhooks {r['webhook_statuses']}"),
        ("lost / double counted", f"{r['lost']} / {r['double_counted']} "
                                  f"(tally == ledger: {r['tally_equals_ledger']})"),
        ("tally on every socket", f"{r['sockets_on_final_tally']} of {r['sockets_open']} on the "
                                  f"ledger's; converged within {CONVERGE_S} s: "
                                  f"{r['tally_converged']} (p50 {r['converge_p50_s']} s, p99 "
                                  f"{r['converge_p99_s']} s, max {r['converge_max_s']} s)"),
        ("broadcast p50 / p99", f"{r['broadcast_p50_ms']} / {r['broadcast_p99_ms']} ms over "
                                f"{r['broadcasts']} snapshots (outside the restart p99 "
                                f"{r['broadcast_p99_ms_outside_restart']} ms; quiet baseline "
                                f"p99 {r['quiet_broadcast_p99_ms']} ms)"),
        ("handshake failures", f"{r['handshake_failures']} outside the restart, "
                               f"{r['handshake_failures_in_restart']} in it; disconnects "
                               f"{r['disconnects_outside_restart']} outside, "
                               f"{r['disconnects_in_restart']} in it"),
        ("webhook p50 / p99", f"{r['webhook_p50_ms']} / {r['webhook_p99_ms']} ms (quiet baseline "
                              f"p99 {r['quiet_webhook_p99_ms']} ms); start p99 "
                              f"{r['start_p99_ms']} ms (quiet baseline p50 / p99 "
                              f"{r['quiet_start_p50_ms']} / {r['quiet_start_p99_ms']} ms)"),
        ("engagement", f"votes {r['votes_sent']} sent, {r['votes_acked']} acked, "
                       f"{r['votes_counted']} counted, {r['double_votes']} double; reactions "
                       f"{r['reactions_sent']}; errors {r['socket_errors']}"),
        ("edge", f"{r['viewer_requests']} viewer requests, {r['origin_requests']} at the origin "
                 f"(baseline without the edge: {r['viewer_requests']}; ratio "
                 f"{r['origin_requests_per_viewer_request']}), hit ratio {r['edge_hit_ratio']}, "
                 f"{r['origin_requests_per_segment']} origin requests per segment (max "
                 f"{r['max_origin_fetches_per_segment']}, {r['distinct_segments']} segments: "
                 f"{r['stream_realtime']} of the stream's expected output), "
                 f"viewer errors {r['viewer_errors']}"),
        ("Redis / PostgreSQL", f"{r['redis_cmds_per_s']} commands/s, "
                               f"{r['pg_xacts_per_s']} transactions/s"),
        ("the bench's own load", f"{r['bench_clients_cpu_pct']} % CPU (sockets, viewers, donors, "
                                 "the pushing ffmpeg)"),
    ]  # fmt: skip
    for title, value in rows:
        print(f"{title:<26}{value}")
    print(f"\n{'process':<18}{'CPU %':>8}{'RSS MB':>10}{'peak MB':>10}")
    for name, p in r["processes"].items():
        print(f"{name:<18}{p['cpu_pct']:>8}{p['rss_mb']:>10}{p['rss_peak_mb']:>10}")
    print(f"\n{'model (linear)':<24}" + "".join(f"{v:>14}" for v in r["model"]))
    for key in next(iter(r["model"].values())):
        print(f"{key:<24}" + "".join(f"{m[key]!s:>14}" for m in r["model"].values()))
    print(json.dumps({"bench": "showtime", "cpus": os.cpu_count(), "results": r}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4,000 sockets, an 80-s night")
    parser.add_argument("--sockets", type=int)
    parser.add_argument("--viewers", type=int)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    parser.add_argument("--role", default="bench", choices=["bench", "sockets", "donors"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--setup")
    parser.add_argument("--count", type=int)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.role == "sockets":
        run_sockets(args)
    elif args.role == "donors":
        run_donors(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
