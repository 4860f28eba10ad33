"""Webhook throughput: N signed `payment_intent.succeeded` events for N pending donations,
delivered at concurrency C to a real uvicorn server (PostgreSQL, Redis), then the ledger and
the tally are checked to the cent. Baseline, in the same run on the same database: pgbench with
a one-insert transaction at the same concurrency.

    .venv/bin/python bench/webhooks.py [--quick] [--n N] [--concurrency C] [--workers W]

Last line: {"bench": "webhooks", "cpus": …, "results": {webhooks_per_s, p50_ms, p99_ms, lost,
double_counted, pgbench_tps, ratio_to_pgbench, …}}.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
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
