"""Ingest benchmark: segment PUT latency and PUT-to-visible delay, 4 live streams at once.

    .venv/bin/python bench/ingest.py [--quick]

It starts one uvicorn web process (our ingest and origin, on PostgreSQL and Redis) and, as the
baseline, one uvicorn process running a bare ASGI app that only streams each body to a file
and renames it (no key check, no database, no playlist). A separate client process plays 4
encoders the way ffmpeg's HLS muxer does: every target duration, on one keep-alive connection
per stream, a chunked PUT of an ffmpeg-sized segment (2.5 Mbit/s), then a chunked PUT of the
encoder's playlist; and per stream a player polls our served playlist every 50 ms to see when
each segment appears. Goals: PUT p99 < 50 ms; visible within half a target
duration + 1 s. At the end every segment sent must be in the published playlists, once.
The last line is one JSON object (BENCH.md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(18500, 18600)
STREAMS = 4
TARGET_DURATION = 2
SEGMENT_BYTES = int(2.5e6 / 8 * TARGET_DURATION)
CHUNK = 32 * 1024

BARE_APP = """
import os, tempfile
ROOT = os.environ["BARE_ROOT"]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    fd, tmp = tempfile.mkstemp(dir=ROOT)
    with os.fdopen(fd, "wb") as f:
        while True:
            m = await receive()
            f.write(m.get("body", b""))
            if not m.get("more_body"):
                break
    os.replace(tmp, os.path.join(ROOT, scope["path"].rsplit("/", 1)[-1]))
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18500-18599")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- the client process -------------------------------------------------------------------


def put(conn: http.client.HTTPConnection, path: str, body: bytes, key: str) -> float:
    chunks = (body[i : i + CHUNK] for i in range(0, len(body), CHUNK))
    started = time.perf_counter()
    conn.request("PUT", path, body=chunks, encode_chunked=True,
                 headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        raise RuntimeError(f"PUT {path}: {response.status}")
    return (time.perf_counter() - started) * 1000


def encoder(port: int, public_id: str, key: str, seconds: float, out: dict, watch: bool) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = os.urandom(SEGMENT_BYTES)
    base = f"/streaming/ingest/{public_id}"
    sent: dict[int, float] = {}
    seen: dict[int, float] = {}
    stop = threading.Event()

    def player() -> None:
        poll = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            poll.request("GET", f"/live/{public_id}/stream/index.m3u8")
            response = poll.getresponse()
            text = response.read().decode()
            now = time.monotonic()
            if response.status == 200:
                for line in text.splitlines():
                    if line.endswith(".ts"):
                        seen.setdefault(int(line[:-3]), now)
            time.sleep(0.05)

    if watch:
        threading.Thread(target=player, daemon=True).start()
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < seconds:
        due = start + i * TARGET_DURATION
        time.sleep(max(0.0, due - time.monotonic()))
        sent[i] = time.monotonic()
        out["segment_ms"].append(put(conn, f"{base}/seg_{i}.ts", payload, key))
        first = max(0, i - 3)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{TARGET_DURATION}",
                 f"#EXT-X-MEDIA-SEQUENCE:{first}"]  # fmt: skip
        for n in range(first, i + 1):
            lines += [f"#EXTINF:{TARGET_DURATION}.000000,", f"seg_{n}.ts"]
        playlist = ("\n".join(lines) + "\n").encode()
        out["playlist_ms"].append(put(conn, f"{base}/stream.m3u8", playlist, key))
        i += 1
    deadline = time.monotonic() + TARGET_DURATION + 2
    while watch and len(seen) < i and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    out["sent"] += i
    if watch:
        out["visible_s"] += [seen[n] - sent[n] for n in sent if n in seen]
        out["missing"] += sum(1 for n in sent if n not in seen)


def client(config: dict) -> dict:
    out: dict = {"segment_ms": [], "playlist_ms": [], "visible_s": [], "sent": 0, "missing": 0}
    threads = [
        threading.Thread(target=encoder, args=(config["port"], s["public_id"], s["key"],
                                               config["seconds"], out, config["watch"]))
        for s in config["streams"]
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


# --- the parent: servers, data, report ----------------------------------------------------


def wait_ready(port: int, proc: subprocess.Popen, path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("a server exited at start")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("a server did not start")


def run_client(config: dict) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--client", json.dumps(config)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def setup_streams(env: dict) -> list[dict]:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from events.models import Campaign, CapacityTier, Event, EventStatus
    from streaming import services

    campaign, _ = Campaign.objects.get_or_create(
        slug="bench-ingest", defaults={"name": "Bench", "legal_name": "Bench Committee"}
    )
    tier = CapacityTier.objects.order_by("max_attendees").first()
    now = timezone.now()
    streams = []
    for n in range(STREAMS):
        event = Event.objects.create(
            campaign=campaign, title=f"Bench {n}", slug=f"bench-{time.time_ns()}-{n}",
            starts_at=now, ends_at=now + timedelta(hours=1), capacity_tier=tier,
            goal_minor=100, status=EventStatus.SCHEDULED,
        )  # fmt: skip
        stream, key = services.create_stream(event_id=event.pk)
        streams.append({"public_id": stream.public_id, "key": key, "id": stream.pk})
    return streams


def check_published(streams: list[dict], sent: int) -> tuple[int, int]:
    """(published, duplicated) segments over all streams, from the database."""
    from streaming.models import Segment

    published = Segment.objects.filter(rendition__stream_id__in=[s["id"] for s in streams])
    count = published.count()
    distinct = published.values("rendition_id", "seq").distinct().count()
    return count, count - distinct


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--client")
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client(json.loads(args.client))))
        return
    seconds = 24 if args.quick else 120
    bare_seconds = 10 if args.quick else 40
    shm = Path("/dev/shm")  # noqa: S108 (tmpfs, as production media should be)
    media = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=shm if shm.is_dir() else None))
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz0123",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pc_bench_ingest"
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
        "MEDIA_ROOT": str(media),
        "HLS_TARGET_DURATION": str(TARGET_DURATION),
        "LOG_LEVEL": "ERROR",
    }
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name],
                   capture_output=True, check=False)  # fmt: skip
    procs: list[subprocess.Popen] = []

    def stop_all(*_: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    try:
        streams = setup_streams(env)
        # The baseline: a bare ASGI app that streams bodies to files, nothing else.
        bare_dir = media / "bare"
        bare_dir.mkdir()
        (media / "bare_app.py").write_text(BARE_APP)
        bare_port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(media), "--host",
             "127.0.0.1", "--port", str(bare_port), "--no-access-log", "--log-level", "warning"],
            env={**os.environ, **env, "BARE_ROOT": str(bare_dir)}, start_new_session=True,
        ))  # fmt: skip
        wait_ready(bare_port, procs[-1], "/ready")
        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--no-access-log", "--log-level", "warning", "--lifespan",
             "off"],
            env={**os.environ, **env}, cwd=ROOT, start_new_session=True,
        ))  # fmt: skip
        wait_ready(port, procs[-1], "/healthz")

        bare = run_client({"port": bare_port, "streams": streams, "seconds": bare_seconds,
                           "watch": False})  # fmt: skip
        load = os.getloadavg()[0]
        ours = run_client({"port": port, "streams": streams, "seconds": seconds, "watch": True})
        published, duplicated = check_published(streams, ours["sent"])
    finally:
        stop_all()
        shutil.rmtree(media, ignore_errors=True)

    # The goal's figure is the segment PUT; playlist PUTs (which publish) are reported apart.
    puts = ours["segment_ms"]
    bare_puts = bare["segment_ms"]
    results = {
        "streams": STREAMS,
        "target_duration_s": TARGET_DURATION,
        "segment_bytes": SEGMENT_BYTES,
        "put_p50_ms": round(percentile(puts, 50), 2),
        "put_p99_ms": round(percentile(puts, 99), 2),
        "playlist_put_p50_ms": round(percentile(ours["playlist_ms"], 50), 2),
        "playlist_put_p99_ms": round(percentile(ours["playlist_ms"], 99), 2),
        "visible_delay_p50_s": round(percentile(ours["visible_s"], 50), 3),
        "visible_delay_p99_s": round(percentile(ours["visible_s"], 99), 3),
        "visible_goal_s": TARGET_DURATION / 2 + 1,
        "bare_put_p50_ms": round(percentile(bare_puts, 50), 2),
        "bare_put_p99_ms": round(percentile(bare_puts, 99), 2),
        "ratio_p50_to_bare": round(percentile(puts, 50) / percentile(bare_puts, 50), 2),
        "ratio_p99_to_bare": round(percentile(puts, 99) / percentile(bare_puts, 99), 2),
        "segments_sent": ours["sent"],
        "segments_published": published,
        "lost": ours["sent"] - published,
        "not_seen_by_player": ours["missing"],
        "double_counted": duplicated,
        "server_processes": 1,
        "load_avg_1m": round(load, 2),
    }
    print(f"{'figure':28} {'ours':>10} {'bare ASGI':>10} {'ratio':>7}")
    r = results
    for label, p in (("segment PUT p50 (ms)", "p50"), ("segment PUT p99 (ms)", "p99")):
        print(f"{label:28} {r[f'put_{p}_ms']:>10} {r[f'bare_put_{p}_ms']:>10} "
              f"{r[f'ratio_{p}_to_bare']:>7}")  # fmt: skip
    print(f"{'playlist PUT p50/p99 (ms)':28} {results['playlist_put_p50_ms']:>5}/"
          f"{results['playlist_put_p99_ms']:<5} (publishes: database + files)")  # fmt: skip
    print(f"{'PUT-to-visible p50/p99 (s)':28} {results['visible_delay_p50_s']:>5}/"
          f"{results['visible_delay_p99_s']:<5} goal < {results['visible_goal_s']}")  # fmt: skip
    print(f"segments sent {results['segments_sent']}, published {published}, "
          f"duplicated {duplicated}, not seen by the player {ours['missing']}; "
          f"cpus {os.cpu_count()}, 1 server process, load {results['load_avg_1m']}")  # fmt: skip
    print(json.dumps({"bench": "ingest", "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
