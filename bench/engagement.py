"""The room talking back (issue 17): reactions, upvotes and a poll's votes from N sockets on ONE
web process, while tally broadcasts go on; against the same run's tally-only broadcasts.

    .venv/bin/python bench/engagement.py            # N = 10,000 (two client processes)
    .venv/bin/python bench/engagement.py --quick    # N = 2,000, shorter phases (≤ ~2 min)

What runs: a Redis of its own (`redis-server` on a free port: PC_TEST_PORTS's range when set),
so its INFO counts only this run; the bench database (BENCH_DATABASE_URL, migrated), with a
fresh live event, 20 approved questions and an open poll of four answers; one uvicorn process
(config.asgi, the live room's flags as in bench/fanout.py); client processes of at most 5,000
raw sockets each (bench/fanout.py's client), every socket with its own signed attendee cookie
(liveroom/attendees.py), so it is its own participant.

Tally broadcasts: twice a second the bench tells the room the tally changed (INCR and PUBLISH,
as `events.livebus.publish_change` does), so the hub builds a snapshot from the database and
publishes it, coalesced with the room's own changes. A broadcast's time is from its `s|` wire
message on the channel (seen by the bench's own subscriber) to the last socket's receipt of it
(or of a later version: the outbox keeps only the newest), over the sockets open before it.

Phases, in this order:
1. reactions only (10% of sockets send a reaction every second): database rows written
   (pg_stat_user_tables, read once the stats are flushed; the dashboard's viewer samples, a
   row per 15 s whatever the reactions, are printed and left out of db_writes_per_reaction),
   Redis commands per second;
2. tally only: the baseline broadcast times, Redis commands per second;
3. engagement: 10% react every second, 1% upvote a question every second, every socket votes
   once in the poll over 10 s, and halfway through 20% of the sockets drop and reconnect with
   their cookie and vote again (the hub must refuse the second vote), while tallies go on.
Votes are then counted from the database: rows, distinct voters, `double_votes` = rows -
distinct voters; reactions from Redis's per-minute counts. A vote with no answer in 20 s is
sent again, and a socket the server closed reconnects, as the page does (both counted).
`ratio_to_tally_only` is the tally-only broadcast p99 over the engagement one (1.0: no cost;
the goal is at least 0.8). Redis commands per connect are printed apart: the storm's
reconnects are in the engagement phase's commands per second. `--profile FILE` runs the
server under cProfile. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import contextlib
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout  # bench/fanout.py: the raw client and the server process

ROOT = fanout.ROOT
PY = fanout.PY
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pc_bench_engagement"
)
SECRET_KEY = fanout.server_env()["SECRET_KEY"]  # the server's: the cookies are signed with it
PER_CLIENT = 5_000
TALLY_EVERY_S = 0.5
VOTE_WINDOW_S = 10.0
NO_ANSWER_S = 20.0
STORM_SHARE = 5  # one socket in five drops and reconnects mid-poll
REF_VOTE, REF_UPVOTE, REF_REACT = 1, 2, 3
SAMPLES_TABLE = "events_viewersample"  # the dashboard's 15 s viewer samples, not reactions


# -- the client ----------------------------------------------------------------------------------
def attendee_cookie(value: str) -> str:
    from django.conf import settings
    from django.core import signing

    if not settings.configured:
        settings.configure(SECRET_KEY=SECRET_KEY)
    return signing.Signer(salt="liveroom.attendee").sign(value)  # liveroom.attendees._SALT


class Sock(fanout.Client):
    """One socket of one participant: fanout's client with the attendee cookie, which records
    every snapshot version it gets (with the time) and the answers to what it sent."""

    def __init__(self, part: Participant, host: str, port: int, path: str) -> None:
        super().__init__({}, host, port, path)
        self.part = part
        self.got: list[tuple[int, float]] = []
        self.opened_at = 0.0
        self.closed = False
        self.dropped = False  # closed by the bench (the reconnect storm)
        self.open.add_done_callback(self._opened)

    def _opened(self, fut: asyncio.Future[None]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            self.opened_at = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://{self.host}:{self.port}\r\n"
                f"Cookie: pc_attendee={self.part.cookie}\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.opened_at and not self.dropped and self.part.box.running:
            self.part.box.inc("closed_by_server")
        super().connection_lost(exc)

    def _message(self, payload: bytes) -> None:
        if payload.startswith(b'{"version":'):
            end = 11
            while payload[end] in b"0123456789":
                end += 1
            self.got.append((int(payload[11:end]), time.monotonic()))
        elif payload.startswith(b'{"type":"reactions"'):
            self.part.box.bursts += 1
        else:
            try:
                body = json.loads(payload)
            except ValueError:
                self.part.box.inc("unreadable_frames")
                if self.part.box.c["unreadable_frames"] == 1:
                    print(f"unreadable frame: {payload[:120]!r}", file=sys.stderr, flush=True)
                return
            self.part.box.answer(self.part, body)

    def _frames(self) -> None:
        # The server's close frame, counted by its code; the rest is fanout's client's.
        buf = self.buf
        if len(buf) >= 4 and buf[0] & 0x0F == 8 and (buf[1] & 0x7F) >= 2:
            self.part.box.inc(f"server_close_{int.from_bytes(buf[2:4], 'big')}")
        super()._frames()

    def send(self, body: dict[str, object]) -> bool:
        if self.closed or self.transport is None or self.opened_at == 0.0:
            return False
        data = json.dumps(body, separators=(",", ":")).encode()
        head = bytes([0x81, 0x80 | len(data)]) if len(data) < 126 else (
            bytes([0x81, 0x80 | 126]) + len(data).to_bytes(2, "big"))  # fmt: skip
        self.transport.write(head + b"\0\0\0\0" + data)  # masked with the key 0
        return True


class Participant:
    def __init__(self, box: Box, name: str) -> None:
        self.box, self.cookie = box, attendee_cookie(name)
        self.socks: list[Sock] = []
        self.vote: tuple[int, int] | None = None  # (poll, option) once sent
        self.vote_pending = False  # to send (again) once a socket is open
        self.vote_done = False
        self.vote_sent_at = 0.0
        self.reconnecting = False

    @property
    def sock(self) -> Sock | None:
        return self.socks[-1] if self.socks else None


class Box:
    """One client process's participants and what came back."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.parts: list[Participant] = []
        self.bursts = 0
        self.running = True
        self.c: dict[str, int] = {}  # counters
        self.gate = asyncio.Semaphore(64)

    def inc(self, name: str, n: int = 1) -> None:
        self.c[name] = self.c.get(name, 0) + n

    async def connect(self, part: Participant) -> bool:
        part.reconnecting = True
        try:
            return await self._connect(part)
        finally:
            part.reconnecting = False

    async def _connect(self, part: Participant) -> bool:
        loop = asyncio.get_running_loop()
        async with self.gate:
            for attempt in range(8):
                transport: asyncio.BaseTransport | None = None
                try:
                    transport, sock = await loop.create_connection(
                        lambda: Sock(part, self.host, self.port, self.path), self.host, self.port
                    )
                    await asyncio.wait_for(asyncio.shield(sock.open), 30)
                    part.socks.append(sock)
                    if part.vote_pending and part.vote is not None:
                        self.send_vote(part)
                    return True
                except (OSError, TimeoutError, ConnectionError):
                    if transport is not None:
                        transport.close()  # a late handshake must not leave a second socket
                    self.inc("connect_retries")
                    await asyncio.sleep(0.2 * (attempt + 1))
        self.inc("connect_failed")
        return False

    def send_vote(self, part: Participant) -> None:
        assert part.vote is not None
        sock = part.sock
        body = {"type": "vote", "poll": part.vote[0], "option": part.vote[1], "ref": REF_VOTE}
        if sock is not None and sock.send(body):
            part.vote_pending = False
            part.vote_sent_at = time.monotonic()
            self.inc("vote_messages")
        else:
            part.vote_pending = True  # sent when its socket is back

    def answer(self, part: Participant, body: dict[str, object]) -> None:
        ref, kind = body.get("ref"), body.get("type")
        what = {REF_VOTE: "vote", REF_UPVOTE: "upvote", REF_REACT: "react"}.get(ref, "other")  # type: ignore[call-overload]
        if kind == "ack":
            self.inc(f"{what}_acked")
            if what == "vote":
                part.vote_done = True
        elif kind == "error":
            code = str(body.get("code"))
            self.inc(f"{what}_error_{code}")
            if what == "vote":
                if code == "already_voted":
                    part.vote_done = True
                elif code == "unavailable":  # the database was busy: the page tries again
                    loop = asyncio.get_running_loop()
                    loop.call_later(0.5, self.send_vote, part)

    async def react(self, seconds: float, upvote: bool, vote: dict[str, object] | None) -> None:
        """10% react every second (and 1% upvote, and the poll's votes over VOTE_WINDOW_S with
        the reconnect storm halfway), for `seconds`, in ticks of 50 ms."""
        tick = 0.05
        n = len(self.parts)
        started = time.monotonic()
        storm_done = False
        questions: list[int] = vote["questions"] if vote else []  # type: ignore[assignment]
        options: list[int] = vote["options"] if vote else []  # type: ignore[assignment]
        voted_upto = 0
        tenths = [[i for i in range(n) if i % 10 == g] for g in range(10)]
        hundredths = [[i for i in range(n) if i % 100 == g] for g in range(100)]
        tasks: list[asyncio.Task[bool]] = []

        def react(indices: list[int]) -> None:
            for i in indices:
                sock = self.parts[i].sock
                if sock is not None and sock.send(
                    {"type": "react", "counts": {"heart": 1}, "ref": REF_REACT}
                ):
                    self.inc("reactions_sent")

        def up(indices: list[int], second: int) -> None:
            for i in indices:
                sock = self.parts[i].sock
                q = questions[(i // 100 + second) % len(questions)]
                if sock is not None and sock.send(
                    {"type": "upvote", "question": q, "ref": REF_UPVOTE}
                ):
                    self.inc("upvotes_sent")

        # Each second's tenth reacts (and hundredth upvotes) once, spread over its ticks: a
        # cursor per group, so a late tick catches up without sending anything twice.
        current, r_at, u_at = 0, 0, 0
        k = 0
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= seconds:
                break
            second, frac = int(elapsed), elapsed % 1.0
            if second != current:  # the rest of the last second's groups first
                react(tenths[current % 10][r_at:])
                if upvote:
                    up(hundredths[current % 100][u_at:], current)
                current, r_at, u_at = second, 0, 0
            group = tenths[second % 10]
            hi = int(len(group) * min(1.0, frac + tick))
            react(group[r_at:hi])
            r_at = max(r_at, hi)
            if upvote:
                ups = hundredths[second % 100]
                hi = int(len(ups) * min(1.0, frac + tick))
                up(ups[u_at:hi], second)
                u_at = max(u_at, hi)
            if vote is not None:
                due = min(n, int(n * min(1.0, elapsed / VOTE_WINDOW_S)))
                for i in range(voted_upto, due):
                    part = self.parts[i]
                    part.vote = (int(vote["poll"]), options[i % len(options)])  # type: ignore[call-overload]
                    self.send_vote(part)
                voted_upto = max(voted_upto, due)
                if not storm_done and elapsed >= VOTE_WINDOW_S / 2:
                    storm_done = True
                    for i in range(0, n, STORM_SHARE):
                        part = self.parts[i]
                        if part.sock is not None and part.sock.transport is not None:
                            part.sock.dropped = True
                            part.sock.transport.close()  # dropped, no close frame
                            self.inc("dropped")
                        if part.vote is not None:
                            part.vote_pending = True  # the page votes again after a reconnect
                        tasks.append(asyncio.ensure_future(self.connect(part)))
            k += 1
            await asyncio.sleep(max(0.0, started + k * tick - time.monotonic()))
        if tasks:
            ok = await asyncio.gather(*tasks)
            self.inc("reconnected", sum(ok))
        if vote is not None:
            deadline = time.monotonic() + 240  # then reported as unsettled
            while time.monotonic() < deadline and not all(p.vote_done for p in self.parts):
                now = time.monotonic()
                for part in self.parts:
                    if part.vote_done or part.vote is None:
                        continue
                    if (part.sock is None or part.sock.closed) and not part.reconnecting:
                        # Closed by the server (or never open): the page reconnects.
                        self.inc("reconnects_to_vote")
                        tasks.append(asyncio.ensure_future(self.connect(part)))
                        continue
                    if part.vote_pending:
                        self.send_vote(part)
                    elif now - part.vote_sent_at > NO_ANSWER_S:
                        # No answer (a reply dropped behind a slow socket): the page asks again.
                        self.inc("vote_resent_no_answer")
                        self.send_vote(part)
                await asyncio.sleep(0.1)
            self.inc("votes_settled", sum(p.vote_done for p in self.parts))
            self.inc("votes_settled_ms", round((time.monotonic() - started) * 1000))
            self.inc("voters", sum(p.vote is not None for p in self.parts))

    def latencies(self, wires: dict[int, float]) -> dict[int, tuple[float, int, int]]:
        """Per wire version: (the last receipt time of it or a later version over the
        sessions open before it went out, sessions counted, sessions that never got it and
        are still open)."""
        out: dict[int, tuple[float, int, int]] = {}
        sessions = [
            (s.opened_at, s.closed, [v for v, _ in s.got], [t for _, t in s.got])
            for p in self.parts
            for s in p.socks
            if s.opened_at
        ]
        for version, at in wires.items():
            last, counted, missing = 0.0, 0, 0
            for opened_at, closed, versions, times in sessions:
                if opened_at >= at:
                    continue
                i = bisect.bisect_left(versions, version)
                if i < len(versions):
                    counted += 1
                    last = max(last, times[i])
                elif not closed:
                    missing += 1
            out[version] = (last, counted, missing)
        return out


async def run_client(port: int, path: str, count: int, prefix: str) -> None:
    loop = asyncio.get_running_loop()
    box = Box("127.0.0.1", port, path)
    box.parts = [Participant(box, f"{prefix}-{i}") for i in range(count)]
    ok = await asyncio.gather(*(box.connect(p) for p in box.parts))
    print(f"ready {sum(ok)}", flush=True)
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if not line or line == "stop":
            box.running = False
            break
        command, _, arg = line.partition(" ")
        if command in ("react", "engage"):
            spec = json.loads(arg)
            box.c = {}
            await box.react(spec["seconds"], command == "engage", spec.get("vote"))
            print("did " + json.dumps({**box.c, "bursts": box.bursts}), flush=True)
        elif command == "report":
            wires = {int(v): t for v, t in json.loads(arg).items()}
            out = box.latencies(wires)
            print("report " + json.dumps({v: list(x) for v, x in out.items()}), flush=True)


# -- setup and checks, in a Django process -------------------------------------------------------
def django_env() -> dict[str, str]:
    return {**fanout.server_env(), "DJANGO_SETTINGS_MODULE": "config.settings"}


def setup_event() -> None:
    import django

    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from engagement import polls
    from engagement.models import Question, QuestionStatus
    from events.models import Campaign, CapacityTier, Event

    campaign, _ = Campaign.objects.get_or_create(
        slug="bench", defaults={"name": "Bench", "legal_name": "Bench"}
    )
    now = timezone.now()
    event = Event.objects.create(
        campaign=campaign, slug=f"bench-engagement-{time.time_ns()}", title="Bench",
        starts_at=now, ends_at=now + timedelta(days=1), goal_minor=100, status="live",
        capacity_tier=CapacityTier.objects.get(max_attendees=50000),
    )  # fmt: skip
    questions = Question.objects.bulk_create(
        Question(event=event, text=f"Question {n}?", asker=f"{n:032x}",
                 status=QuestionStatus.APPROVED)
        for n in range(20)
    )  # fmt: skip
    poll = polls.create_poll(
        event_id=event.pk, question="Which issue first?", by_user_id=None,
        options=["Housing", "Transit", "Schools", "Parks"],
    )  # fmt: skip
    polls.run_poll(event_id=event.pk, poll_id=poll.pk, action="open", by_user_id=None)
    print(json.dumps({
        "event_id": event.pk, "slug": event.slug, "poll": poll.pk,
        "options": list(poll.options.order_by("position").values_list("pk", flat=True)),
        "questions": [q.pk for q in questions],
    }))  # fmt: skip


def count_votes(poll_id: int) -> None:
    import django

    django.setup()
    from django.db.models import Count

    from engagement.models import PollVote

    votes = PollVote.objects.filter(poll_id=poll_id)
    found = votes.aggregate(rows=Count("id"), voters=Count("voter", distinct=True))
    print(json.dumps(found))


def psql_rows(sql: str) -> list[list[str]]:
    dbname = DATABASE_URL.rsplit("/", 1)[1]
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", dbname, "-AtF", "\t", "-c", sql],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def rows_written() -> dict[str, int]:
    """Rows inserted, updated or deleted per table of the bench database, as flushed so far."""
    return {
        name: int(n)
        for name, n in psql_rows(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
        )
    }


# -- the orchestrator ----------------------------------------------------------------------------
def pick_port() -> int:
    spec = os.environ.get("PC_TEST_PORTS", "")
    if "-" in spec:
        lo, hi = (int(x) for x in spec.split("-", 1))
        for port in range(hi, lo - 1, -1):  # from the top: tests take theirs from the bottom
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    return fanout.free_port()


class OwnRedis:
    def __init__(self) -> None:
        self.port = pick_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> OwnRedis:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--maxclients", "4096", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not listen")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)


class Run:
    """The orchestrator's side: its Redis connection, the wire watcher and the tally ticker."""

    def __init__(self, redis_url: str, event_id: int) -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(redis_url)
        self.event_id = event_id
        self.channel = f"pc:live:db{redis_url.rsplit('/', 1)[1]}"  # events.livebus.channel()
        self.wires: dict[int, float] = {}  # snapshot version → when it was on the channel
        self.notices: list[float] = []
        self.own = {"publish": 0, "incrby": 0, "info": 0}  # our own commands, taken off
        self.ticking = False

    async def watch(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        prefix = f"s|{self.event_id}|".encode()
        while True:
            msg = await pubsub.get_message(timeout=1.0)
            if msg is not None and msg["data"].startswith(prefix):
                version = int(msg["data"][len(prefix) : msg["data"].index(b"|", len(prefix))])
                self.wires.setdefault(version, time.monotonic())

    async def tally(self) -> None:
        """Twice a second, "the tally changed" (events.livebus.publish_change's commands)."""
        while True:
            if self.ticking:
                pipe = self.redis.pipeline(transaction=False)
                pipe.incr(f"pc:live:{{{self.event_id}}}:changes")
                pipe.publish(self.channel, f"c|{self.event_id}|tally")
                self.notices.append(time.monotonic())
                await pipe.execute()
                self.own["incrby"] += 1
                self.own["publish"] += 1
            await asyncio.sleep(TALLY_EVERY_S)

    async def commandstats(self) -> dict[str, int]:
        self.own["info"] += 1
        info = await self.redis.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


async def command(clients: list[asyncio.subprocess.Process], line: str, reply: str) -> list[str]:
    for proc in clients:
        proc.stdin.write(line.encode() + b"\n")  # type: ignore[union-attr]
    out = []
    for proc in clients:
        while True:
            got = (await asyncio.wait_for(proc.stdout.readline(), 900)).decode()  # type: ignore[union-attr]
            if not got:
                raise RuntimeError("a client process ended")
            if got.startswith(reply + " "):
                out.append(got[len(reply) + 1 :])
                break
    return out


def summed(answers: list[str]) -> dict[str, int]:
    total: dict[str, int] = {}
    for text in answers:
        for k, v in json.loads(text).items():
            total[k] = max(total.get(k, 0), v) if k.endswith("_ms") else total.get(k, 0) + v
    return total


def p99(values: list[float]) -> float:
    ms = sorted(values)
    return round(ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))], 1) if ms else 0.0


async def phase(run: Run, clients: list[asyncio.subprocess.Process], name: str, seconds: float,
                spec: dict[str, object] | None) -> dict[str, object]:  # fmt: skip
    """One phase: Redis commands per second over it, what the clients did, and the broadcast
    times of the snapshots that went out during it."""
    before_cmds, own_before = await run.commandstats(), dict(run.own)
    started = time.monotonic()
    if spec is None:
        await asyncio.sleep(seconds)
        did: dict[str, int] = {}
    else:
        line = ("engage " if "vote" in spec else "react ") + json.dumps(spec)
        did = summed(await command(clients, line, "did"))
    duration = time.monotonic() - started
    after_cmds = await run.commandstats()
    delta = {k: v - before_cmds.get(k, 0) for k, v in after_cmds.items()}
    for k, v in run.own.items():
        delta[k] = delta.get(k, 0) - (v - own_before[k])
    delta = {k: v for k, v in delta.items() if v > 0}
    await asyncio.sleep(1.0)  # the last snapshot's fan-out
    wires = {v: t for v, t in run.wires.items() if started <= t < started + duration}
    reports = await command(clients, "report " + json.dumps(wires), "report")
    latencies, missing = [], 0
    for version, at in wires.items():
        last, counted, lost = 0.0, 0, 0
        for text in reports:
            t, n, m = json.loads(text)[str(version)]
            last, counted, lost = max(last, t), counted + n, lost + m
        if counted:
            latencies.append((last - at) * 1000)
        missing += lost
    notice_delays = []
    for t in run.notices:
        if started <= t < started + duration:
            after = [w for w in wires.values() if w >= t]
            if after:
                notice_delays.append((min(after) - t) * 1000)
    return {
        "phase": name,
        "seconds": round(duration, 1),
        "broadcasts": len(latencies),
        "broadcast_p50_ms": round(statistics.median(latencies), 1) if latencies else 0.0,
        "broadcast_p99_ms": p99(latencies),
        "broadcast_max_ms": round(max(latencies), 1) if latencies else 0.0,
        "notice_to_publish_p99_ms": p99(notice_delays),
        "not_delivered": missing,
        "redis_cmds_per_s": round(sum(delta.values()) / duration),
        "redis_top": dict(sorted(delta.items(), key=lambda kv: -kv[1])[:6]),
        "did": did,
    }


def log_summary(server: fanout.System) -> dict[str, int]:
    """The server's warnings and errors (config.logging's key=value lines), counted by level,
    logger and message."""
    if server.log is None:
        return {}
    server.log.flush()
    server.log.seek(0)
    found: dict[str, int] = {}
    for line in server.log.read().decode(errors="replace").splitlines():
        if "level=" not in line:
            continue
        fields = dict(re.findall(r'(level|logger|msg)=("[^"]*"|\S+)', line))
        key = " ".join(fields.get(k, "").strip('"') for k in ("level", "logger", "msg"))
        found[key] = found.get(key, 0) + 1
    return found


async def bench(args: argparse.Namespace, redis_url: str) -> dict[str, object]:
    env = django_env()
    setup = subprocess.run([PY, __file__, "--setup"], env=env, cwd=ROOT, check=True,
                           capture_output=True, text=True)  # fmt: skip
    ev = json.loads(setup.stdout.strip().splitlines()[-1])
    port = fanout.free_port()
    cmd = [str(ROOT / ".venv/bin/uvicorn"), "config.asgi:application",
           "--ws-per-message-deflate", "false", "--host", "127.0.0.1", "--port", str(port),
           "--no-access-log", "--log-level", "warning", "--backlog", "4096"]  # fmt: skip
    if args.profile:
        cmd = [PY, __file__, "--serve-profiled", str(port), args.profile]
    server = fanout.System("live", cmd, port, f"/ws/events/{ev['slug']}/", ev["event_id"])
    run = Run(redis_url, ev["event_id"])
    clients: list[asyncio.subprocess.Process] = []
    background: list[asyncio.Task[None]] = []
    server.start()
    try:
        background = [asyncio.ensure_future(run.watch()), asyncio.ensure_future(run.tally())]
        n = args.sockets
        connect_cmds = await run.commandstats()
        sizes = [PER_CLIENT] * (n // PER_CLIENT) + ([n % PER_CLIENT] if n % PER_CLIENT else [])
        started = time.monotonic()
        for i, size in enumerate(sizes):
            clients.append(await asyncio.create_subprocess_exec(
                PY, __file__, "--client", str(port), server.path, str(size),
                f"p{time.time_ns()}-{i}",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**24,
            ))  # fmt: skip
        connected = 0
        for proc in clients:
            line = (await asyncio.wait_for(proc.stdout.readline(), 400)).decode()  # type: ignore[union-attr]
            connected += int(line.split()[1])
        after = await run.commandstats()
        per_connect = (sum(after.values()) - sum(connect_cmds.values()) - 1) / max(connected, 1)
        print(f"{connected} sockets connected in {time.monotonic() - started:.1f} s "
              f"({len(clients)} client processes, 1 server process); "
              f"{per_connect:.1f} Redis commands per connect", flush=True)  # fmt: skip
        rows: list[dict[str, object]] = []
        # 1. reactions only: no tally, so the only writes are the hub's own.
        written_before = rows_written()
        rows.append(await phase(run, clients, "reactions only", 0,
                                {"seconds": args.phase_s}))  # fmt: skip
        reacted = int(rows[-1]["did"].get("reactions_sent", 0))  # type: ignore[attr-defined]
        # 2. tally only, the baseline; long enough (> 10 s) for every backend's statistics of
        # phase 1 to be flushed (PostgreSQL 15 flushes an idle backend's within 10 s).
        run.ticking = True
        rows.append(await phase(run, clients, "tally only", max(args.phase_s, 12.0), None))
        written_after = rows_written()
        written = {k: v - written_before.get(k, 0) for k, v in written_after.items()}
        written = {k: v for k, v in written.items() if v}
        # 3. everything at once.
        spec = {"seconds": max(args.phase_s, VOTE_WINDOW_S + 2),
                "vote": {"poll": ev["poll"], "options": ev["options"],
                         "questions": ev["questions"]}}  # fmt: skip
        rows.append(await phase(run, clients, "engagement", 0, spec))
        run.ticking = False
        # Reactions as Redis counted them (engagement.reactions' per-minute hashes).
        # (once the count stops moving: the server may still be reading what was sent)
        counted_reactions, deadline = -1, time.monotonic() + 60
        while time.monotonic() < deadline:
            total = 0
            async for key in run.redis.scan_iter(f"pc:live:{{{ev['event_id']}}}:react:*"):
                total += sum(int(v) for v in (await run.redis.hgetall(key)).values())
            if total == counted_reactions:
                break
            counted_reactions = total
            await asyncio.sleep(2.5)  # over two of the hub's flushes
        for proc in clients:
            proc.stdin.write(b"stop\n")  # type: ignore[union-attr]
        if args.profile and server.proc is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(args.profile)
            os.kill(server.proc.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 60
            while not os.path.exists(args.profile) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)  # written
        server_log = log_summary(server)
    finally:
        for task in background:
            task.cancel()
        for proc in clients:
            if proc.returncode is None:
                proc.kill()
        server.stop()
        await run.redis.aclose()
    votes = json.loads(subprocess.run(
        [PY, __file__, "--count-votes", str(ev["poll"])], env=env, cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1])  # fmt: skip
    return {"sockets": connected, "rows": rows, "per_connect": round(per_connect, 1),
            "reacted": reacted, "written": written, "votes": votes,
            "counted_reactions": counted_reactions, "server_log": server_log}  # fmt: skip


def serve_profiled(port: int, out: str) -> None:
    """The same server under cProfile (`--profile FILE`; slower: for finding hot spots)."""
    import cProfile

    import uvicorn

    sys.path.insert(0, str(ROOT))
    profile = cProfile.Profile()
    # The orchestrator asks for the profile (SIGUSR1) before it stops the server.
    signal.signal(signal.SIGUSR1, lambda *_: profile.dump_stats(out))
    profile.enable()
    try:
        uvicorn.run(
            "config.asgi:application", host="127.0.0.1", port=port, backlog=4096,
            ws_per_message_deflate=False, access_log=False, log_level="warning",
        )  # fmt: skip
    finally:
        profile.disable()
        profile.dump_stats(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sockets", type=int)
    parser.add_argument("--client", nargs=4, metavar=("PORT", "PATH", "COUNT", "PREFIX"))
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--count-votes", type=int)
    parser.add_argument("--profile", metavar="FILE", help="run the server under cProfile")
    parser.add_argument("--serve-profiled", nargs=2, metavar=("PORT", "FILE"))
    args = parser.parse_args()
    if args.serve_profiled:
        serve_profiled(int(args.serve_profiled[0]), args.serve_profiled[1])
        return
    if args.client:
        port, path, count, prefix = args.client
        asyncio.run(run_client(int(port), path, int(count), prefix))
        return
    if args.setup:
        setup_event()
        return
    if args.count_votes:
        count_votes(args.count_votes)
        return
    args.sockets = args.sockets or (2_000 if args.quick else 10_000)
    args.phase_s = 12.0 if args.quick else 20.0
    with OwnRedis() as own:
        redis_url = f"redis://127.0.0.1:{own.port}/0"
        fanout.REDIS_URL, fanout.DATABASE_URL = redis_url, DATABASE_URL  # fanout.server_env()
        dbname = DATABASE_URL.rsplit("/", 1)[1]
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname],
                       capture_output=True, check=False)  # fmt: skip
        subprocess.run([PY, "manage.py", "migrate", "-v0"], env=django_env(), cwd=ROOT,
                       check=True)  # fmt: skip
        load = os.getloadavg()
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        print(f"cpus={os.cpu_count()} server processes=1 ulimit_n={soft} redis port={own.port} "
              f"load_before={load[0]:.2f},{load[1]:.2f},{load[2]:.2f}", flush=True)  # fmt: skip
        out = asyncio.run(bench(args, redis_url))
        out["load_before"] = round(load[0], 2)
    rows: list[dict[str, object]] = out["rows"]  # type: ignore[assignment]
    print(f"\n{'phase':<16}{'s':>6}{'bcasts':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'notice→pub p99':>16}{'undelivered':>13}{'redis cmd/s':>13}")  # fmt: skip
    for r in rows:
        print(f"{r['phase']:<16}{r['seconds']:>6}{r['broadcasts']:>8}{r['broadcast_p50_ms']:>9}"
              f"{r['broadcast_p99_ms']:>9}{r['broadcast_max_ms']:>9}"
              f"{r['notice_to_publish_p99_ms']:>16}{r['not_delivered']:>13}"
              f"{r['redis_cmds_per_s']:>13}")  # fmt: skip
    for r in rows:
        print(f"  {r['phase']}: redis {r['redis_top']}; clients {r['did']}")
    reactions_phase, tally, engaged = rows
    did: dict[str, int] = engaged["did"]  # type: ignore[assignment]
    written: dict[str, int] = out["written"]  # type: ignore[assignment]
    reacted: int = out["reacted"]  # type: ignore[assignment]
    not_samples = sum(v for k, v in written.items() if k != SAMPLES_TABLE)
    votes: dict[str, int] = out["votes"]  # type: ignore[assignment]
    print(f"rows written while {reacted} reactions were sent (and the tally-only phase read): "
          f"{written or 'none'}")  # fmt: skip
    print(f"votes: {did.get('voters', 0)} participants voted ({did.get('vote_messages', 0)} "
          f"messages, {did.get('dropped', 0)} sockets dropped and "
          f"{did.get('reconnected', 0)} reconnected); the database has {votes['rows']} votes "
          f"from {votes['voters']} voters")  # fmt: skip
    for line, n in sorted(out["server_log"].items(), key=lambda kv: -kv[1])[:12]:  # type: ignore[attr-defined]
        print(f"server log: {n} x {line}")
    load_after = os.getloadavg()
    tally_p99 = float(tally["broadcast_p99_ms"])  # type: ignore[arg-type]
    engaged_p99 = float(engaged["broadcast_p99_ms"])  # type: ignore[arg-type]
    results = {
        "sockets": out["sockets"],
        "votes_sent": did.get("voters", 0),
        "votes_counted": votes["rows"],
        "double_votes": votes["rows"] - votes["voters"],
        "broadcast_p99_ms": engaged_p99,
        # Broadcast speed relative to tally-only (time ratio inverted): ≥ 0.8 is the goal.
        "ratio_to_tally_only": round(tally_p99 / engaged_p99, 2) if engaged_p99 else 0.0,
        "redis_cmds_per_s_per_process": engaged["redis_cmds_per_s"],
        "db_writes_per_reaction": round(not_samples / reacted, 6) if reacted else None,
        "tally_only_broadcast_p99_ms": tally_p99,
        "broadcast_p50_ms": engaged["broadcast_p50_ms"],
        "notice_to_publish_p99_ms": engaged["notice_to_publish_p99_ms"],
        "tally_only_notice_to_publish_p99_ms": tally["notice_to_publish_p99_ms"],
        "not_delivered": sum(int(r["not_delivered"]) for r in rows),  # type: ignore[call-overload]
        "redis_cmds_per_s_tally_only": tally["redis_cmds_per_s"],
        "redis_cmds_per_s_reactions_only": reactions_phase["redis_cmds_per_s"],
        "redis_cmds_per_connect": out["per_connect"],
        "reactions_sent": reacted + did.get("reactions_sent", 0),
        "reactions_counted": out["counted_reactions"],
        "upvotes_sent": did.get("upvotes_sent", 0),
        "upvotes_acked": did.get("upvote_acked", 0),
        "vote_messages": did.get("vote_messages", 0),
        "votes_refused_already_voted": did.get("vote_error_already_voted", 0),
        "vote_retries_unavailable": did.get("vote_error_unavailable", 0),
        "vote_resent_no_answer": did.get("vote_resent_no_answer", 0),
        "votes_settled_s": round(did.get("votes_settled_ms", 0) / 1000, 1),
        "reconnected": did.get("reconnected", 0),
        "closed_by_server": sum(int(r["did"].get("closed_by_server", 0)) for r in rows),  # type: ignore[attr-defined]
        "db_rows_written_reactions_phase": written,
        "load_before": out["load_before"],
        "load_after": round(load_after[0], 2),
    }
    print(json.dumps({"bench": "engagement", "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
