"""Starting a donation with the money rules on: a federal candidate committee's limit per
election by donor identity (two keys, advisory locks, totals per election and cycle), its
itemization threshold and prohibited-source checks, at 10,000 donors with 100,000 prior gifts.
Baseline, in the same run on the same database and server: the same start on a campaign with
the rules off (no elections, no limit, no threshold; also 10,000 donors and 100,000 gifts).
The two flows' requests are interleaved through one client, so both see the same load.

    .venv/bin/python bench/limits.py [--quick] [--starts N] [--concurrency C]

At the end every accepted start must be exactly one pending donation, and no donor identity
may be over the limit in any election. Last line: {"bench": "limits", "cpus": …, "results":
{start_p50_ms, start_p99_ms, baseline_start_p50_ms, baseline_start_p99_ms, ratio_p99, …}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "pc_bench_limits"
PG = "postgres://postgres@127.0.0.1:5432"
PORTS = range(18100, 18150)
LIMIT_MINOR = 350_000
GIFT_MINOR = 2_500


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"{PG}/{DB_NAME}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "STRIPE_SECRET_KEY": "",
            "ALLOW_SIMULATED_PAYMENTS": "1",  # no payment network: the start's own cost
            "DONATION_STARTS_PER_IP": "1000000",
            "DONATION_STARTS_PER_EMAIL": "1000000",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", sql],
        check=True,
    )


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def letters(i: int) -> str:
    """A distinct name for each number (names are compared as letters only)."""
    out = ""
    while True:
        i, rest = divmod(i, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[rest] + out
        if i == 0:
            return out.capitalize()


def donor(i: int) -> dict[str, str]:
    return {
        "email": f"donor{i}@example.com",
        "first_name": "Donor",
        "last_name": letters(i),
        "address_line1": f"{i} Main Street",
        "city": "Springfield",
        "region": "IL",
        "postal_code": f"{62000 + i % 900:05d}",
        "country": "US",
        "employer": "Acme",
        "occupation": "Engineer",
    }


def seed(donors: int, gifts: int) -> dict[str, tuple[int, str]]:
    """The two campaigns, each with an event, `donors` donors and `gifts` succeeded gifts
    spread over the last 200 days (the rules-on campaign's designated to its primary).
    Returns {"on"|"off": (event id, slug)}."""
    from django.db import connection

    from donations.compliance.identity import donor_key
    from donations.donors import DonorDetails
    from donations.models import Donation
    from events.elections import Election, cycle_of, gift_date
    from events.models import Campaign, CapacityTier, Event

    now = datetime.now(UTC)
    tier = CapacityTier.objects.get(max_attendees=10_000)
    rng = random.Random(7)
    out = {}
    for flow in ("on", "off"):
        campaign = Campaign.objects.create(
            name=f"Rules {flow}",
            slug=f"rules-{flow}",
            legal_name=f"Rules {flow} Committee",
            kind="federal_candidate" if flow == "on" else "other",
            paid_for_by=f"Paid for by Rules {flow}",
        )
        event = Event.objects.create(
            campaign=campaign, title=flow, slug=f"event-{flow}", starts_at=now,
            ends_at=now + timedelta(hours=2), capacity_tier=tier, goal_minor=10_000_000,
            status="live",
        )  # fmt: skip
        primary = None
        if flow == "on":
            today = gift_date()
            cycle = cycle_of(today)
            primary = Election.objects.create(
                campaign=campaign, kind="primary", date=today + timedelta(days=60), cycle=cycle
            )
            Election.objects.create(
                campaign=campaign, kind="general", date=today + timedelta(days=150), cycle=cycle
            )
        keys = [donor_key(DonorDetails(**donor(i))) for i in range(donors)]
        batch = []
        for n in range(gifts):
            i = n % donors
            amount = rng.choice((1_000, 2_500, 5_000))
            batch.append(
                Donation(
                    event=event, campaign=campaign, attempt_key=uuid.uuid4(),
                    provider="simulated", payment_id=f"sim_{flow}_{n}", gift_minor=amount,
                    amount_minor=amount, currency="usd", status="succeeded", net_minor=amount,
                    succeeded_seen=True, succeeded_at=now - timedelta(days=rng.random() * 200),
                    donor_key=keys[i], election=primary, election_minor=amount if primary else 0,
                    **donor(i),
                )
            )  # fmt: skip
            if len(batch) == 5_000:
                Donation.objects.bulk_create(batch)
                batch = []
        Donation.objects.bulk_create(batch)
        out[flow] = (event.pk, event.slug)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return out


def start_requests(
    events: dict[str, tuple[int, str]], starts: int, donors: int
) -> list[tuple[str, str, bytes]]:
    """(flow, path, body) for `starts` starts of each flow, interleaved, by random donors."""
    from donations.defence import issue_page_token

    rng = random.Random(11)
    tokens = {flow: issue_page_token(event_id=event_id) for flow, (event_id, _) in events.items()}
    out = []
    for _ in range(starts):
        for flow, (_, slug) in events.items():
            body = {
                "attempt_key": str(uuid.uuid4()),
                "page_token": tokens[flow],
                "amount_minor": GIFT_MINOR,
                "currency": "usd",
                "cover_fees": False,
                "attestations": [],
                **donor(rng.randrange(donors)),
            }
            out.append((flow, f"/donations/events/{slug}/start/", json.dumps(body).encode()))
    return out


async def _post_many(port: int, requests: list[tuple[str, str, bytes]], concurrency: int) -> dict:
    """POST each request, one connection each, `concurrency` at once; latencies per flow."""
    queue = list(reversed(requests))
    latencies: dict[str, list[float]] = {}
    statuses: dict[str, dict[int, int]] = {}
    csrf = "c" * 32
    head = (
        "Content-Type: application/json\r\n"
        f"Cookie: csrftoken={csrf}\r\nX-CSRFToken: {csrf}\r\nReferer: http://127.0.0.1/\r\n"
    )

    async def worker() -> None:
        while queue:
            flow, path, body = queue.pop()
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
            latencies.setdefault(flow, []).append((time.perf_counter() - started) * 1000)
            per_flow = statuses.setdefault(flow, {})
            per_flow[status] = per_flow.get(status, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"latencies": latencies, "statuses": statuses}


def client_process(port: int, requests: list, concurrency: int, out) -> None:
    out.send(asyncio.run(_post_many(port, requests, concurrency)))


def in_client_process(port: int, requests: list, concurrency: int) -> dict:
    parent, child = multiprocessing.Pipe()
    client = multiprocessing.Process(
        target=client_process, args=(port, requests, concurrency, child), daemon=True
    )
    client.start()
    result = parent.recv()
    client.join()
    return result


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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def check_ledger(events: dict[str, tuple[int, str]], accepted: dict[str, int]) -> dict:
    """Every accepted start is one pending donation; no identity over the limit."""
    from django.db import connection

    from donations.models import Donation

    pending = {
        flow: Donation.objects.filter(event_id=event_id, status="pending").count()
        for flow, (event_id, _) in events.items()
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT donor_key, election_id, sum(election_minor) AS total "
            "FROM donations_donation WHERE election_id IS NOT NULL AND status IN "
            "('pending', 'succeeded') GROUP BY donor_key, election_id) AS t WHERE total > %s",
            [LIMIT_MINOR],
        )
        over = cursor.fetchone()[0]
    return {
        "lost": sum(max(0, accepted.get(f, 0) - pending[f]) for f in events),
        "double_counted": sum(max(0, pending[f] - accepted.get(f, 0)) for f in events),
        "over_limit": over,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")
    parser.add_argument("--starts", type=int, default=None, help="starts per flow")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    donors, gifts = (2_000, 20_000) if args.quick else (10_000, 100_000)
    starts = args.starts or (300 if args.quick else 1_500)

    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(server_env())
    sys.path.insert(0, str(ROOT))
    server = None
    log = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
        )
        import django

        django.setup()
        seeded_at = time.monotonic()
        events = seed(donors, gifts)
        seed_s = time.monotonic() - seeded_at
        requests = start_requests(events, starts, donors)
        warmup = start_requests(events, 20, donors)
        port = free_port()
        log_path = Path(tempfile.gettempdir()) / "pledgecast-bench-limits-server.log"
        log = open(log_path, "w")  # noqa: SIM115
        server = subprocess.Popen(
            [sys.executable, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"],
            cwd=ROOT, env=server_env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        print(f"server log: {log_path}", file=sys.stderr)
        wait_ready(port, server)
        warmed = in_client_process(port, warmup, args.concurrency)
        load = os.getloadavg()
        result = in_client_process(port, requests, args.concurrency)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if log is not None:
            log.close()
    try:
        statuses = result["statuses"]
        accepted = {  # the warm-up's starts are in the ledger too
            flow: statuses[flow].get(200, 0) + warmed["statuses"][flow].get(200, 0)
            for flow in events
        }
        ledger = check_ledger(events, accepted)
    finally:
        from django.db import connections

        connections.close_all()
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    on, off = result["latencies"]["on"], result["latencies"]["off"]
    results = {
        "donors": donors,
        "prior_gifts": gifts,
        "starts_per_flow": starts,
        "concurrency": args.concurrency,
        "server_processes": 1,
        "start_p50_ms": round(percentile(on, 0.5), 2),
        "start_p99_ms": round(percentile(on, 0.99), 2),
        "baseline_start_p50_ms": round(percentile(off, 0.5), 2),
        "baseline_start_p99_ms": round(percentile(off, 0.99), 2),
        "statuses": {f: {str(k): v for k, v in sorted(s.items())} for f, s in statuses.items()},
        **ledger,
        "loadavg_1m_before": round(load[0], 2),
    }
    results["ratio_p50"] = round(results["start_p50_ms"] / results["baseline_start_p50_ms"], 3)
    results["ratio_p99"] = round(results["start_p99_ms"] / results["baseline_start_p99_ms"], 3)
    print(f"{donors:,} donors, {gifts:,} prior gifts per campaign (seeded in {seed_s:.0f} s)")
    print(f"{starts:,} starts per flow, interleaved, {args.concurrency} at once, 1 web process")
    print(f"{'':24}{'rules on':>12}{'rules off':>12}{'ratio':>8}")
    for q in ("p50", "p99"):
        print(
            f"{'start ' + q + ' (ms)':24}{results[f'start_{q}_ms']:>12}"
            f"{results[f'baseline_start_{q}_ms']:>12}{results[f'ratio_{q}']:>8}"
        )
    print(f"{'HTTP statuses':24}{results['statuses']}")
    print(
        f"{'lost / double / over':24}{ledger['lost']} / {ledger['double_counted']} / "
        f"{ledger['over_limit']}"
    )
    print(f"{'cpus, load before':24}{os.cpu_count()}, {load[0]:.2f}")
    print(json.dumps({"bench": "limits", "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
