"""The staff dashboard's fragment (`liveroom.dashboard.build_panels`: totals, the per-minute
series, top refcodes, recent donations, viewers, stream health) for an event with 100,000
succeeded donations (and 20,000 on another event), on PostgreSQL. Baseline, in the same run on
the same data: the same fragment with the `donation_staff_recent` index dropped (inside a
transaction that is rolled back), i.e. what the dashboard cost before that index.

    .venv/bin/python bench/dashboard.py [--quick] [--donations N] [--repeat R]

Last line: {"bench": "dashboard", "cpus": …, "results": {fragment_p50_ms, fragment_p95_ms,
recent_p50_ms, baseline_fragment_p50_ms, baseline_recent_p50_ms, ratio_to_baseline, …}}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "pc_bench_dashboard"
PG = "postgres://postgres@127.0.0.1:5432"
REFCODES = [f"code-{i}" for i in range(20)]


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", sql],
        check=True,
    )


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm the caches once
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--donations", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args()
    n = args.donations or (30_000 if args.quick else 100_000)
    repeat = args.repeat or (10 if args.quick else 30)

    psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    psql(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(DATABASE_URL=f"{PG}/{DB_NAME}", DEBUG="1", LOG_LEVEL="WARNING")
    os.environ.pop("REDIS_URL", None)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
        )
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        run(n, repeat)
    finally:
        from django.db import connections

        connections.close_all()
        psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


def seed(n: int):
    from donations.models import Donation
    from events.models import Campaign, CapacityTier, Event

    now = datetime.now(UTC)
    campaign = Campaign.objects.create(name="Bench", slug="bench", legal_name="Bench PAC")
    tier = CapacityTier.objects.get(max_attendees=10_000)

    def event(slug: str) -> Event:
        return Event.objects.create(
            campaign=campaign, title=slug, slug=slug, starts_at=now - timedelta(hours=2),
            ends_at=now + timedelta(hours=1), capacity_tier=tier, goal_minor=10_000_000,
            status="live", went_live_at=now - timedelta(hours=2),
        )  # fmt: skip

    measured, other = event("measured"), event("other")
    for target, count in ((measured, n), (other, n // 5)):
        batch = []
        for i in range(count):
            at = now - timedelta(seconds=7200 * (count - i) / count)
            amount = 1_000 + (i % 50) * 500
            batch.append(
                Donation(
                    event=target, campaign=campaign, attempt_key=uuid.uuid4(),
                    provider="simulated", payment_id=f"sim_{target.pk}_{i}",
                    gift_minor=amount, amount_minor=amount, currency="usd", status="succeeded",
                    net_minor=amount, succeeded_seen=True, email=f"d{i}@example.com",
                    first_name="Donor", last_name=str(i), refcode=REFCODES[i % len(REFCODES)],
                    succeeded_at=at,
                )
            )  # fmt: skip
            if len(batch) == 5_000:
                Donation.objects.bulk_create(batch)
                batch = []
        Donation.objects.bulk_create(batch)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return measured, now


def run(n: int, repeat: int) -> None:
    from django.db import connection, transaction

    from donations import selectors
    from liveroom import dashboard

    event, now = seed(n)

    def fragment() -> object:
        return dashboard.build_panels(event=event, zone=UTC, now=now)

    def recent() -> list:
        return selectors.event_recent_donations(event_id=event.pk, limit=dashboard.RECENT_DONATIONS)

    with_index = {"fragment": timed(fragment, repeat), "recent": timed(recent, repeat)}
    rows_with = [d.donation_id for d in recent()]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX donation_staff_recent")
        without = {"fragment": timed(fragment, repeat), "recent": timed(recent, repeat)}
        rows_without = [d.donation_id for d in recent()]
        transaction.set_rollback(True)

    # The rows were bulk-inserted (no tally shards): count them from the ledger itself.
    ledger = selectors.ledger_tally(event_id=event.pk)
    correct = rows_with == rows_without and len(rows_with) > 0 and ledger.donations == n
    results = {
        "donations": n,
        "repeat": repeat,
        "fragment_p50_ms": round(statistics.median(with_index["fragment"]), 2),
        "fragment_p95_ms": round(p95(with_index["fragment"]), 2),
        "recent_p50_ms": round(statistics.median(with_index["recent"]), 2),
        "baseline_fragment_p50_ms": round(statistics.median(without["fragment"]), 2),
        "baseline_recent_p50_ms": round(statistics.median(without["recent"]), 2),
        "same_rows": correct,
    }
    results["ratio_to_baseline"] = round(
        results["fragment_p50_ms"] / results["baseline_fragment_p50_ms"], 3
    )
    print(f"{n:,} succeeded donations on the event, {n // 5:,} on another; {repeat} runs each")
    print(f"{'':28}{'with index':>12}{'without':>12}")
    print(
        f"{'fragment p50 (ms)':28}{results['fragment_p50_ms']:>12}"
        f"{results['baseline_fragment_p50_ms']:>12}"
    )
    print(
        f"{'recent donations p50 (ms)':28}{results['recent_p50_ms']:>12}"
        f"{results['baseline_recent_p50_ms']:>12}"
    )
    print(f"fragment ratio (with / without): {results['ratio_to_baseline']}")
    print(f"same recent donations both ways, {n:,} in the ledger: {correct}")
    print(json.dumps({"bench": "dashboard", "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
