"""Webhook throughput: N signed `payment_intent.succeeded` events for N pending donations,
delivered at concurrency C to a real uvicorn server (PostgreSQL, Redis), then the ledger and
the tally are checked to the cent. Baseline, in the same run on the same database: pgbench with
a one-insert transaction at the same concurrency.

    .venv/bin/python bench/webhooks.py [--quick] [--n N] [--concurrency C] [--workers W]
    .venv/bin/python bench/webhooks.py --spike [--quick]

--spike: a spike of donation starts (2,000, 64 at a time; --quick: 800) and then their
webhooks, against a PostgreSQL of the bench's own (initdb in a temporary folder, its own port,
max_connections=100, never the shared one), polling pg_stat_activity all along: it reports the
errors (anything but a 2xx), the peak of the web processes' connections and their documented
budget (README "Database connections": DATABASE_POOL_SIZE + DONATION_WEBHOOK_THREADS per web
process), besides the keys of the plain run.

Last line: {"bench": "webhooks", "cpus": …, "results": {webhooks_per_s, p50_ms, p99_ms, lost,
double_counted, pgbench_tps, ratio_to_pgbench, …[, spike_errors, spike_peak_connections,
connection_budget]}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "pc_bench_webhooks"
PG = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/1"  # the donations engineer's Redis db on this machine
SECRET = "whsec_bench_0123456789"  # noqa: S105 -- a bench-only signing secret
PORTS = range(18150, 18200)


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"{PG}/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            # Nothing in this bench calls Stripe; a closed port makes sure of it.
            "STRIPE_API_BASE": "http://127.0.0.1:9",
            "LOG_LEVEL": "WARNING",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18150-18199")


def use_database_server(url: str) -> None:
    """Point the whole bench (server, setup, checks, pgbench) at another PostgreSQL."""
    global PG
    PG = url


def django_setup() -> None:
    os.environ.update(server_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare(n: int) -> tuple[int, list[tuple[int, str, int]]]:
    """A fresh database with one live event and N pending donations (distinct donors)."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=server_env(),
        check=True,
    )
    django_setup()
    import uuid
    from datetime import timedelta

    import redis
    from django.utils import timezone

    from donations.models import Donation
    from events.models import Campaign, CapacityTier, Event

    redis.Redis.from_url(REDIS_URL).flushdb()
    campaign = Campaign.objects.create(name="Bench", slug="bench", legal_name="Bench PAC")
    now = timezone.now()
    event = Event.objects.create(
        campaign=campaign,
        title="Bench night",
        slug="bench-night",
        starts_at=now,
        ends_at=now + timedelta(hours=2),
        capacity_tier=CapacityTier.objects.order_by("max_attendees").first(),
        goal_minor=10**9,
        status="live",
    )
    rows = [
        Donation(
            event=event,
            campaign=campaign,
            attempt_key=uuid.uuid4(),
            provider="stripe",
            payment_id=f"pi_bench_{i:07d}",
            gift_minor=1_000 + i % 500,
            fee_minor=0,
            amount_minor=1_000 + i % 500,
            currency="usd",
            email=f"donor{i}@example.com",
            first_name="Bench",
            ticker_opt_in=i % 3 == 0,
        )
        for i in range(n)
    ]
    Donation.objects.bulk_create(rows, batch_size=2_000)
    # Planner statistics, as autovacuum keeps them on a live table (a fresh bulk load has none,
    # and the donor-lock query would then scan the campaign instead of its (campaign, email) index).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    pending = list(Donation.objects.values_list("pk", "payment_id", "amount_minor"))
    return event.pk, pending


def signed_bodies(pending: list[tuple[int, str, int]]) -> list[tuple[bytes, str]]:
    import stripe

    out = []
    created = int(time.time())
    for pk, payment_id, amount in pending:
        event = {
            "id": f"evt_bench_{pk}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created,
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": payment_id,
                    "object": "payment_intent",
                    "amount": amount,
                    "amount_received": amount,
                    "currency": "usd",
                    "latest_charge": f"ch_bench_{pk}",
                    "metadata": {"donation_id": str(pk)},
                    "status": "succeeded",
                }
            },
        }
        body = json.dumps(event)
        out.append((body.encode(), stripe.WebhookSignature.generate_signature_header(body, SECRET)))
    return out


async def _deliver(port: int, items: list[tuple[bytes, str]], concurrency: int) -> dict:
    queue = list(reversed(items))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body, signature = queue.pop()
                head = (
                    f"POST /donations/webhooks/stripe/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Type: application/json\r\nStripe-Signature: {signature}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                started = time.perf_counter()
                writer.write(head + body)
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                status = int(status_line.split()[1]) if status_line else 0
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "elapsed": elapsed,
        "statuses": statuses,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def client_process(port: int, items: list[tuple[bytes, str]], concurrency: int, out) -> None:
    out.send(asyncio.run(_deliver(port, items, concurrency)))


def wait_ready(port: int, proc: subprocess.Popen, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in the server's process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5: pgrp
            total += int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime
    return total / ticks


def check_ledger(event_id: int, pending: list[tuple[int, str, int]]) -> dict:
    from django.db.models import Sum

    from donations.models import Donation, ProviderEvent
    from donations.selectors import event_tally, ledger_tally

    expected = sum(amount for _, _, amount in pending)
    succeeded = Donation.objects.filter(status="succeeded").count()
    applied = ProviderEvent.objects.exclude(applied_at=None).count()
    tally = event_tally(event_id=event_id)
    ledger = ledger_tally(event_id=event_id)
    ledger_sum = Donation.objects.aggregate(s=Sum("net_minor"))["s"] or 0
    return {
        "lost": len(pending) - succeeded,
        "double_counted": max(0, tally.donations - len(pending)) + max(0, applied - len(pending)),
        "tally_equals_ledger": (tally.raised_minor, tally.donors, tally.donations)
        == (ledger.raised_minor, ledger.donors, ledger.donations)
        and tally.raised_minor == expected == ledger_sum,
        "raised_minor": tally.raised_minor,
        "expected_minor": expected,
    }


def pgbench(concurrency: int, seconds: int) -> float:
    import psycopg

    with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS pgbench_one_insert (id bigserial, v int)")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("INSERT INTO pgbench_one_insert (v) VALUES (1);\n")
    try:
        out = subprocess.run(
            [
                "pgbench",
                "-n",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-p",
                str(urllib.parse.urlsplit(PG).port or 5432),
                "-c",
                str(concurrency),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-f",
                script.name,
                DB_NAME,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if match is None:
        match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else 0.0


# --- --spike: a burst of donation starts and webhooks against the bench's own PostgreSQL ------

SPIKE_MAX_CONNECTIONS = 100
WEB_APPLICATION_NAME = "pledgecast-web"


class OwnPostgres:
    """initdb in a temporary folder and a postgres on its own port (as the `postgres` user when
    we are root); stop() removes it all."""

    def __init__(self, max_connections: int) -> None:
        import shutil

        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.bin = bins[-1]
        self.folder = Path(tempfile.mkdtemp(prefix="pc-bench-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        subprocess.run(
            [*as_user, str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True,
        )  # fmt: skip
        self.port = free_port()
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.folder),
            "max_connections": str(max_connections),
            "shared_buffers": "128MB",
            "synchronous_commit": "off",
        }
        self.proc = subprocess.Popen(
            [*as_user, str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port),
             *(f"-c{k}={v}" for k, v in options.items())],
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "postgres.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.folder / 'postgres.log'}")
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the bench's PostgreSQL did not become ready")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def stop(self) -> None:
        import shutil

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # a fast shutdown
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class ConnectionWatcher:
    """Polls pg_stat_activity every 10 ms: the peak of the web processes' connections to the
    bench's database (they connect with application_name WEB_APPLICATION_NAME)."""

    def __init__(self) -> None:
        import threading

        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            while not self._stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND application_name = %s",
                    [DB_NAME, WEB_APPLICATION_NAME],
                ).fetchone()
                self.peak = max(self.peak, int(row[0]) if row else 0)
                self.samples += 1
                self._stop.wait(0.01)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


async def _post_many(
    port: int, requests: list[tuple[str, dict[str, str], bytes]], concurrency: int
) -> dict:
    """POST each (path, headers, body), one connection per request, `concurrency` at once."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        while queue:
            path, headers, body = queue.pop()
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            started = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{head}"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                answer = await reader.read()
                writer.close()
                status = int(answer.split(b" ", 2)[1]) if answer else 0
            except (OSError, ValueError, IndexError):
                status = 0
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "elapsed": elapsed,
        "statuses": statuses,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def post_process(port: int, requests: list, concurrency: int, out) -> None:
    out.send(asyncio.run(_post_many(port, requests, concurrency)))


def in_client_process(port: int, requests: list, concurrency: int) -> dict:
    parent, child = multiprocessing.Pipe()
    client = multiprocessing.Process(
        target=post_process, args=(port, requests, concurrency, child), daemon=True
    )
    client.start()
    result = parent.recv()
    client.join()
    return result


def start_requests(event_id: int, slug: str, n: int) -> list[tuple[str, dict[str, str], bytes]]:
    """N donation starts as the donate panel sends them (distinct donors, one CSRF cookie)."""
    import uuid

    from donations.defence import issue_page_token

    csrf = "b" * 32  # the cookie's secret; the header may carry it unmasked
    token = issue_page_token(event_id=event_id)
    headers = {
        "Content-Type": "application/json",
        "Cookie": f"csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Referer": "http://127.0.0.1/",
    }
    out = []
    for i in range(n):
        body = {
            "attempt_key": str(uuid.uuid4()),
            "page_token": token,
            "amount_minor": 1_000 + i % 500,
            "currency": "usd",
            "cover_fees": False,
            "email": f"spike{i}@example.com",
            "first_name": "Spike",
            "last_name": "Donor",
            "attestations": [],
        }
        out.append((f"/donations/events/{slug}/start/", headers, json.dumps(body).encode()))
    return out


def webhook_requests(items: list[tuple[bytes, str]]) -> list[tuple[str, dict[str, str], bytes]]:
    return [
        (
            "/donations/webhooks/stripe/",
            {"Content-Type": "application/json", "Stripe-Signature": signature},
            body,
        )
        for body, signature in items
    ]


def connection_budget_per_web_process(env: dict[str, str]) -> int:
    """The documented budget (README "Database connections"), from the server's settings."""
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASE_CONNECTION_BUDGET)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


def spike(args: argparse.Namespace) -> None:
    n = args.n or (800 if args.quick else 2_000)
    concurrency = 64
    pg_seconds = 5 if args.quick else 10
    postgres = OwnPostgres(SPIKE_MAX_CONNECTIONS)
    server = log = watcher = fake = None
    try:
        use_database_server(postgres.url)
        sys.path.insert(0, str(ROOT))
        from tests.donations.fakestripe import FakeStripe  # the one fake of Stripe's API

        fake = FakeStripe()
        fake.start()
        # http.server listens with a backlog of 5: 64 donation starts at once would see its
        # connections reset (the fake's limit, not the platform's). Listening again resizes it.
        fake._server.socket.listen(1024)
        env = server_env()
        env.update(
            {
                # The web processes name themselves: the watcher counts only theirs.
                "DATABASE_URL": f"{PG}/{DB_NAME}?application_name={WEB_APPLICATION_NAME}",
                "STRIPE_API_BASE": fake.url,
                "DONATION_STARTS_PER_IP": str(10 * n),
                "DONATION_STARTS_PER_EMAIL": str(10 * n),
                "SECURE_COOKIES": "0",
            }
        )
        event_id, _ = prepare(0)
        from events.models import Event

        slug = Event.objects.get(pk=event_id).slug
        starts = start_requests(event_id, slug, n)
        budget = args.workers * connection_budget_per_web_process(env)
        port = free_port()
        log_path = Path(tempfile.gettempdir()) / "pledgecast-bench-webhooks-spike-server.log"
        log = open(log_path, "w")  # noqa: SIM115
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "uvicorn"), "config.asgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
             "--no-access-log", "--lifespan", "off", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        print(f"server log: {log_path}; PostgreSQL: {postgres.folder}", file=sys.stderr)
        wait_ready(port, server)
        watcher = ConnectionWatcher()
        started = in_client_process(port, starts, concurrency)
        from donations.models import Donation

        pending = list(
            Donation.objects.filter(event_id=event_id)
            .exclude(payment_id="")
            .values_list("pk", "payment_id", "amount_minor")
        )
        delivered = in_client_process(port, webhook_requests(signed_bodies(pending)), concurrency)
        # The webhooks are applied after their answer: wait for the ledger (or 30 s).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if Donation.objects.filter(event_id=event_id, status="succeeded").count() >= len(
                pending
            ):
                break
            time.sleep(0.1)
        peak = watcher.stop()
        watcher = None
    finally:
        if watcher is not None:
            watcher.stop()
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if log is not None:
            log.close()
    try:
        ledger = check_ledger(event_id, pending)
        from django.db import connections

        connections.close_all()
        tps = pgbench(concurrency, pg_seconds)
    finally:
        postgres.stop()
    errors = sum(c for s, c in started["statuses"].items() if not 200 <= s < 300) + sum(
        c for s, c in delivered["statuses"].items() if not 200 <= s < 300
    )
    rate = len(pending) / delivered["elapsed"] if pending else 0.0
    results = {
        "spike_starts": n,
        "spike_started": len(pending),
        "concurrency": concurrency,
        "server_processes": args.workers,
        "postgres_max_connections": SPIKE_MAX_CONNECTIONS,
        "spike_errors": errors,
        "spike_peak_connections": peak,
        "connection_budget": budget,
        "start_statuses": {str(k): v for k, v in sorted(started["statuses"].items())},
        "webhook_statuses": {str(k): v for k, v in sorted(delivered["statuses"].items())},
        "starts_per_s": round(n / started["elapsed"], 1),
        "start_p50_ms": round(started["p50_ms"], 2),
        "start_p99_ms": round(started["p99_ms"], 2),
        "webhooks_per_s": round(rate, 1),
        "p50_ms": round(delivered["p50_ms"], 2),
        "p99_ms": round(delivered["p99_ms"], 2),
        "lost": ledger["lost"] + (n - len(pending)),
        "double_counted": ledger["double_counted"],
        "tally_equals_ledger": ledger["tally_equals_ledger"],
        "pgbench_tps": round(tps, 1),
        "ratio_to_pgbench": round(rate / tps, 3) if tps else None,
    }
    print(f"{'donation starts':<28}{n} at {concurrency} at once (uvicorn workers: {args.workers})")
    print(f"{'cpus':<28}{os.cpu_count()}")
    print(f"{'PostgreSQL':<28}its own, max_connections={SPIKE_MAX_CONNECTIONS}")
    print(f"{'start statuses':<28}{started['statuses']}")
    print(f"{'webhook statuses':<28}{delivered['statuses']}")
    print(f"{'errors (not 2xx)':<28}{errors}")
    print(f"{'peak connections':<28}{peak} (budget {budget}: {args.workers} web processes)")
    print(f"{'starts/s, p50 / p99':<28}{results['starts_per_s']}, "
          f"{started['p50_ms']:.1f} ms / {started['p99_ms']:.1f} ms")  # fmt: skip
    print(f"{'webhooks/s, p50 / p99':<28}{rate:.1f}, "
          f"{delivered['p50_ms']:.1f} ms / {delivered['p99_ms']:.1f} ms")  # fmt: skip
    print(f"{'lost / double counted':<28}{results['lost']} / {ledger['double_counted']}")
    print(f"{'pgbench one-insert tps':<28}{tps:.1f} (ratio {results['ratio_to_pgbench']})")
    print(json.dumps({"bench": "webhooks", "cpus": os.cpu_count(), "results": results}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--spike", action="store_true", help="a spike against the bench's own PostgreSQL"
    )
    args = parser.parse_args()
    if args.spike:
        spike(args)
        return
    n = args.n or (3_000 if args.quick else 20_000)
    pg_seconds = 5 if args.quick else 15

    event_id, pending = prepare(n)
    items = signed_bodies(pending)
    port = free_port()
    log_path = Path(tempfile.gettempdir()) / "pledgecast-bench-webhooks-server.log"
    log = open(log_path, "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=server_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        print(f"server log: {log_path}", file=sys.stderr)
        wait_ready(port, server)
        # Warm up each worker's connections and imports outside the measurement.
        for _ in range(20):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
        load = os.getloadavg()
        cpu_before = group_cpu_seconds(server.pid)
        parent, child = multiprocessing.Pipe()
        client = multiprocessing.Process(
            target=client_process, args=(port, items, args.concurrency, child), daemon=True
        )
        client.start()
        result = parent.recv()
        client.join()
        server_cpu = group_cpu_seconds(server.pid) - cpu_before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    ledger = check_ledger(event_id, pending)
    tps = pgbench(args.concurrency, pg_seconds)
    rate = n / result["elapsed"]
    results = {
        "webhooks": n,
        "concurrency": args.concurrency,
        "server_processes": args.workers,
        "webhooks_per_s": round(rate, 1),
        "p50_ms": round(result["p50_ms"], 2),
        "p99_ms": round(result["p99_ms"], 2),
        "statuses": {str(k): v for k, v in sorted(result["statuses"].items())},
        "lost": ledger["lost"],
        "double_counted": ledger["double_counted"],
        "tally_equals_ledger": ledger["tally_equals_ledger"],
        "pgbench_tps": round(tps, 1),
        "ratio_to_pgbench": round(rate / tps, 3) if tps else None,
        "server_cpu_ms_per_webhook": round(server_cpu * 1000 / n, 2),
        "loadavg_1m_before": round(load[0], 2),
    }
    print(f"{'webhooks':<24}{n}")
    print(f"{'concurrency':<24}{args.concurrency} (uvicorn workers: {args.workers})")
    print(f"{'cpus':<24}{os.cpu_count()}")
    print(f"{'webhooks/s':<24}{rate:.1f}")
    print(f"{'latency p50 / p99':<24}{result['p50_ms']:.1f} ms / {result['p99_ms']:.1f} ms")
    print(f"{'HTTP statuses':<24}{result['statuses']}")
    print(f"{'lost / double counted':<24}{ledger['lost']} / {ledger['double_counted']}")
    print(f"{'tally == ledger':<24}{ledger['tally_equals_ledger']} ({ledger['raised_minor']})")
    print(f"{'pgbench one-insert tps':<24}{tps:.1f}")
    print(f"{'ratio to pgbench':<24}{results['ratio_to_pgbench']}")
    print(f"{'server CPU per webhook':<24}{server_cpu * 1000 / n:.2f} ms (all web processes)")
    print(f"{'load (1 min) before':<24}{load[0]:.2f}")
    print(json.dumps({"bench": "webhooks", "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
