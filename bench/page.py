"""Lighthouse (12.2.3, mobile) on the live event page, served as production serves it.

    .venv/bin/python bench/page.py            # 3 Lighthouse runs each way (about 3 min)
    .venv/bin/python bench/page.py --quick    # 1 run each way (about a minute)

What runs, on 127.0.0.1, against the real PostgreSQL (a fresh database) and Redis:
- `manage.py migrate` and `manage.py collectstatic` with `DEBUG=0`, as the README's "Processes"
  says each deploy does (hashed names, a Brotli and a gzip copy beside each);
- two web processes, `python -m config.serve` (uvicorn), `DEBUG=0`, `SERVE_STATIC=1`
  (WhiteNoise serves /static/), `SECURE_SSL_REDIRECT=0` (plain HTTP on loopback, which browsers
  treat as a secure origin), the simulated payment provider (`ALLOW_SIMULATED_PAYMENTS=1`, as
  `make run`: Stripe.js cannot be fetched here), sharing the database, Redis and media:
  - "after": STATIC_ROOT as collectstatic left it;
  - "before": a copy of the same STATIC_ROOT without the `.br` and `.gz` files, so every static
    file (hls.js: 389 KB) goes out uncompressed, as the page was sent before WhiteNoise's
    compression (the issue's Lighthouse figures). The HTML, the JSON, the WebSocket and the
    video are the same both ways;
- a live event of a branded campaign (logo, colours, "Paid for by") with a live two-rendition
  test stream (ffmpeg's test pattern, 2-s segments) pushed into the ingest, so the page plays
  video while Lighthouse loads it.

Lighthouse runs from bench/lighthouse (its own npm project, pinned by its package-lock.json and
installed here on demand with `npm ci --prefix bench/lighthouse`; `make test` never installs
it), with its default mobile settings (Moto G Power screen, simulated slow 4G and 4x CPU
slowdown), Debian's chromium (CHROME_PATH) headless with the flags this machine needs, a fresh
profile per run (a first load: empty cache). Each way runs the same number of times; figures
are medians.

Figures: the performance, accessibility and best-practices scores (0 to 100), CLS, and the first
load's transfer: `transfer_kb` is every byte the load transferred (headers and bodies, as
Lighthouse's network records count them) except the live video's playlists and segments (the
same both ways, and as many as the seconds the load lasted); `video_kb` is those, `total_kb`
both. `transfer_ratio_to_before` is `transfer_kb` after / before. The last line is one JSON
object (../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LIGHTHOUSE_DIR = ROOT / "bench" / "lighthouse"
LIGHTHOUSE = LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROME_PATH = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
# As root, headless, on a closed network (Chromium's background fetches would be refused).
CHROME_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pc_bench_page"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PORTS = range(18800, 18900)  # this bench's own range
TARGET_DURATION = 2
EVENT_SLUG = "bench-page"
TARGETS = {"performance": 90, "accessibility": 100, "best_practices": 100, "cls": 0.05}


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


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our loopback)
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


class Stack:
    """Everything the bench starts, stopped in reverse order (also on Ctrl-C or an error)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


# --- the platform -----------------------------------------------------------------------------


def base_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "MEDIA_ROOT": str(tmp / "media"),
        "STATIC_HASHED": "1",
        "STATIC_ROOT": str(tmp / "static"),
        "SERVE_STATIC": "1",
        "HLS_TARGET_DURATION": str(TARGET_DURATION),
        "ALLOW_SIMULATED_PAYMENTS": "1",
        "LOG_LEVEL": "WARNING",
    }


def prepare(env: dict[str, str], tmp: Path) -> dict:
    """A fresh database, the static files both ways, the event and its stream."""
    dbname = DATABASE_URL.rsplit("/", 1)[1]
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force",
                    dbname], check=True, capture_output=True)  # fmt: skip
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname], check=True)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], env=env, cwd=ROOT,
                   check=True)  # fmt: skip
    before = tmp / "static-before"
    shutil.copytree(tmp / "static", before, ignore=shutil.ignore_patterns("*.br", "*.gz"))
    out = subprocess.run([PY, __file__, "--role", "seed"], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout.splitlines()[-1])


def seed() -> None:
    """The branded campaign's live event and its stream; prints {public_id, key}."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone
    from PIL import Image

    from events.models import Campaign, CapacityTier, Event, EventStatus
    from streaming import services

    logo = io.BytesIO()
    Image.new("RGB", (360, 120), (122, 31, 43)).save(logo, "PNG")
    campaign = Campaign.objects.create(
        name="Alpha for Congress", slug="alpha", legal_name="Alpha for Congress Committee",
        brand_color="#7a1f2b", brand_text_color="#ffffff",
        paid_for_by="Paid for by Alpha for Congress",
        logo=ContentFile(logo.getvalue(), name="logo.png"),
    )  # fmt: skip
    now = timezone.now()
    event = Event.objects.create(
        campaign=campaign, title="Election-eve call with Alpha", slug=EVENT_SLUG,
        description="Join us live: watch, chip in, and see the total climb in real time.",
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=2),
        capacity_tier=CapacityTier.objects.order_by("max_attendees")[0], goal_minor=5_000_000,
        suggested_amounts=[1_000, 2_500, 5_000, 10_000, 25_000], status=EventStatus.LIVE,
        went_live_at=now,
    )  # fmt: skip
    stream, key = services.create_stream(event_id=event.pk)
    print(json.dumps({"public_id": stream.public_id, "key": key}))


def start_web(stack: Stack, env: dict[str, str], port: int, log) -> None:
    stack.start([PY, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "warning"], env=env, cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT)  # fmt: skip


def live(port: int) -> bool:
    state = get_json(f"http://127.0.0.1:{port}/events/{EVENT_SLUG}/stream.json")
    return bool(state and state["state"] == "live" and state["master_url"])


# --- Lighthouse -------------------------------------------------------------------------------


def ensure_lighthouse() -> None:
    """npm ci of bench/lighthouse when its node_modules is missing or older than its lock."""
    installed = LIGHTHOUSE_DIR / "node_modules" / ".package-lock.json"
    lock = LIGHTHOUSE_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("installing Lighthouse: npm ci --prefix bench/lighthouse", flush=True)
    subprocess.run(["npm", "ci", "--prefix", str(LIGHTHOUSE_DIR), "--no-audit", "--no-fund"],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    installed.touch()


def lighthouse(url: str, out: Path) -> dict:
    subprocess.run(
        ["node", str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
         "--form-factor=mobile", "--only-categories=performance,accessibility,best-practices",
         f"--chrome-flags={' '.join(CHROME_FLAGS)}"],
        env={**os.environ, "CHROME_PATH": CHROME_PATH}, check=True, timeout=180,
    )  # fmt: skip
    report = json.loads(out.read_text())
    return figures(report)


def is_video(url: str) -> bool:
    path = url.split("?", 1)[0]
    return "/live/" in path and path.endswith((".m3u8", ".ts", ".m4s", ".mp4", ".aac"))


def figures(report: dict) -> dict:
    categories, audits = report["categories"], report["audits"]
    requests = audits["network-requests"]["details"]["items"]
    page = [r for r in requests if not is_video(r["url"])]
    video = [r for r in requests if is_video(r["url"])]
    by_type: dict[str, float] = {}
    for r in page:
        kind = r.get("resourceType") or "Other"
        by_type[kind] = by_type.get(kind, 0) + r.get("transferSize", 0)
    failing = [
        ref["id"]
        for category in ("accessibility", "best-practices")
        for ref in categories[category]["auditRefs"]
        if ref["weight"] and (audits[ref["id"]]["score"] or 0) < 1
    ]
    return {
        "performance": round(categories["performance"]["score"] * 100),
        "accessibility": round(categories["accessibility"]["score"] * 100),
        "best_practices": round(categories["best-practices"]["score"] * 100),
        "cls": round(audits["cumulative-layout-shift"]["numericValue"], 4),
        "fcp_ms": round(audits["first-contentful-paint"]["numericValue"]),
        "lcp_ms": round(audits["largest-contentful-paint"]["numericValue"]),
        "tbt_ms": round(audits["total-blocking-time"]["numericValue"]),
        "transfer_kb": round(sum(r.get("transferSize", 0) for r in page) / 1024, 1),
        "video_kb": round(sum(r.get("transferSize", 0) for r in video) / 1024, 1),
        "requests": len(page),
        # What proves the load was the page as people get it: every request answered, and the
        # live video playing (its segments fetched) before Lighthouse stopped.
        "failed_requests": sorted(
            r["url"] for r in requests if not 200 <= (r.get("statusCode") or 0) < 400
        ),
        "segments": sum(1 for r in video if r["url"].split("?", 1)[0].endswith(".ts")),
        "warnings": report.get("runWarnings") or [],
        "by_type_kb": {k: round(v / 1024, 1) for k, v in sorted(by_type.items())},
        "failing_audits": failing,
        "static_uncompressed": sorted(
            r["url"].rsplit("/", 1)[-1]
            for r in page
            if "/static/" in r["url"]
            and r.get("resourceSize", 0) > 1024
            and r.get("transferSize", 0) >= r.get("resourceSize", 0)
        ),
    }


def median_run(runs: list[dict]) -> dict:
    """Each figure's median over the runs (lists and tables from the median-performance run)."""
    ordered = sorted(runs, key=lambda r: r["performance"])
    out = dict(ordered[len(ordered) // 2])
    for key, value in runs[0].items():
        if isinstance(value, int | float) and key != "segments":
            out[key] = statistics.median(r[key] for r in runs)
    out["failed_requests"] = sorted({url for r in runs for url in r["failed_requests"]})
    out["segments"] = min(r["segments"] for r in runs)
    out["warnings"] = sorted({w for r in runs for w in r["warnings"]})
    return out


# --- the bench --------------------------------------------------------------------------------


def bench(*, quick: bool) -> dict:
    if shutil.which(CHROME_PATH) is None:
        raise SystemExit(f"{CHROME_PATH} is missing: apt-get install chromium")
    ensure_lighthouse()
    runs = 1 if quick else 3
    tmp = Path(tempfile.mkdtemp(prefix="pc-bench-page-"))
    (tmp / "media").mkdir()
    env = base_env(tmp)
    taken: set[int] = set()
    after_port, before_port = free_port(taken), free_port(taken)
    stack = Stack()
    try:
        stream = prepare(env, tmp)
        log = (tmp / "servers.log").open("wb")
        start_web(stack, env, after_port, log)
        start_web(stack, {**env, "STATIC_ROOT": str(tmp / "static-before")}, before_port, log)
        for port in (after_port, before_port):
            wait_until(lambda p=port: get_json(f"http://127.0.0.1:{p}/healthz"), 30, "the web")
        sys.path.insert(0, str(ROOT))
        from streaming import teststream

        stack.start(teststream.push_command(
            ingest_url=f"http://127.0.0.1:{after_port}/streaming/ingest/{stream['public_id']}",
            key=stream["key"], target_duration=TARGET_DURATION, renditions=2,
        ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wait_until(lambda: live(after_port), 30, "the live stream")
        print(f"cpus={os.cpu_count()}; 2 web processes (uvicorn, 1 each: after and before), "
              f"1 ffmpeg encoder; Lighthouse 12.2.3 mobile, {runs} run(s) each way")  # fmt: skip
        print(f"load before: {os.getloadavg()}")
        results: dict[str, list[dict]] = {"after": [], "before": []}
        for i in range(runs):  # alternated, so a busy moment of the machine hits both
            for label, port in (("after", after_port), ("before", before_port)):
                url = f"http://127.0.0.1:{port}/events/{EVENT_SLUG}/"
                results[label].append(lighthouse(url, tmp / f"{label}-{i}.json"))
        print(f"load after: {os.getloadavg()}")
        kept = Path(os.environ.get("PC_ARTIFACTS", ROOT / "artifacts")) / "lighthouse"
        kept.mkdir(parents=True, exist_ok=True)
        for label in results:
            shutil.copy(tmp / f"{label}-0.json", kept / f"page-{label}.json")
        return {label: median_run(runs_) for label, runs_ in results.items()} | {"runs": runs}
    finally:
        stack.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def report(measured: dict) -> None:
    after, before, runs = measured["after"], measured["before"], measured["runs"]
    rows = [("performance", "performance"), ("accessibility", "accessibility"),
            ("best practices", "best_practices"), ("CLS", "cls"), ("FCP ms", "fcp_ms"),
            ("LCP ms", "lcp_ms"), ("TBT ms", "tbt_ms"), ("requests (without video)", "requests"),
            ("transfer KB (without video)", "transfer_kb"), ("video KB", "video_kb")]  # fmt: skip
    print(f"\n{'':30}{'after':>10}{'before':>10}{'target':>10}")
    for title, key in rows:
        print(f"{title:30}{after[key]!s:>10}{before[key]!s:>10}{TARGETS.get(key, '')!s:>10}")
    ratio = round(after["transfer_kb"] / before["transfer_kb"], 3)
    print(f"transfer after / before: {ratio}")
    correct = (
        not after["failed_requests"]
        and not before["failed_requests"]
        and min(after["segments"], before["segments"]) > 0
    )
    print(
        f"every request answered and the video playing in every run: {correct} "
        f"(failed: {after['failed_requests'] + before['failed_requests'] or 'none'}; "
        f"fewest video segments in a run: {min(after['segments'], before['segments'])})"
    )
    if after["warnings"] or before["warnings"]:
        print(f"Lighthouse's warnings: {after['warnings'] + before['warnings']}")
    for label, run in (("after", after), ("before", before)):
        print(f"{label}: KB by type {run['by_type_kb']}; static files sent uncompressed: "
              f"{run['static_uncompressed'] or 'none'}; failing accessibility or "
              f"best-practices audits: {run['failing_audits'] or 'none'}")  # fmt: skip
    met = (correct and after["performance"] >= TARGETS["performance"]
           and after["accessibility"] >= TARGETS["accessibility"]
           and after["best_practices"] >= TARGETS["best_practices"]
           and after["cls"] < TARGETS["cls"])  # fmt: skip
    print(f"targets met: {met} (medians of {runs} run(s); reports: artifacts/lighthouse/)")
    print(json.dumps({"bench": "page", "cpus": os.cpu_count(), "results": {
        "performance": after["performance"], "accessibility": after["accessibility"],
        "best_practices": after["best_practices"], "cls": after["cls"],
        "transfer_kb": after["transfer_kb"], "transfer_ratio_to_before": ratio,
        "before_transfer_kb": before["transfer_kb"], "video_kb": after["video_kb"],
        "total_kb": round(after["transfer_kb"] + after["video_kb"], 1),
        "fcp_ms": after["fcp_ms"], "lcp_ms": after["lcp_ms"], "tbt_ms": after["tbt_ms"],
        "before_performance": before["performance"], "runs": runs, "targets_met": met,
        "correct": correct,
        "web_processes": 2,
    }}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--role", default="bench", choices=["bench", "seed"])
    args = parser.parse_args()
    if args.role == "seed":
        seed()
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # the finally blocks stop everything
    report(bench(quick=args.quick))


if __name__ == "__main__":
    main()
