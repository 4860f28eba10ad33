"""Glass to glass through the edge, standard and low latency side by side (issue 18).

    .venv/bin/python bench/latency.py            # 60 s of measurement
    .venv/bin/python bench/latency.py --quick    # 15 s of measurement

What runs, all on 127.0.0.1, against the real PostgreSQL and Redis (bench/edge.py's stack):
the web process (uvicorn, config.asgi: ingest, playlists, blocking reloads), the origin nginx
(origin.conf.template), a counting proxy between edge and origin (bench/edge.py's), the edge
nginx (edge.conf, rendered by streaming.deployconf), and two live streams of ffmpeg's test
pattern pushed into the ingest (`-re`, one rendition 640x360): one in standard latency
(2-s segments), one in low latency (0.5-s parts grouped into 2-s segments by our writer).

- Glass to glass: headless Chromium (Debian's) plays each stream through the edge with hls.js
  (node_modules), as static/js/player.js configures it for the mode (standard: 3 segments
  back; low: lowLatencyMode and the playlist's PART-HOLD-BACK); every 250 ms the page takes
  wall clock minus the playhead's PROGRAM-DATE-TIME (`hls.playingDate`). The date-times are
  the encoder's capture times (the ingest takes when each upload began: ffmpeg PUTs a
  segment as it encodes it, from its first captured frame), so this is capture to display.
  `standard_p95_s`, `low_p95_s` (goal ≤ 4 s) over the measurement window; the standard
  stream is the baseline, with the ratio.
- 1,000 simulated viewers (2 processes at nice 10, asyncio, one keep-alive connection each)
  watch the low-latency stream through the same edge as LL-HLS clients do: a blocking reload
  for the preload-hinted part (`_HLS_msn`/`_HLS_part`), then each new part.
- `origin_requests_per_part`: the low stream's playlist requests that reached the origin
  (counted by the proxy) per part published in the window (goal ≤ 1 per edge); beside it the
  part files' origin fetches per part and the baseline without collapsing (every viewer's
  blocking reload would reach the origin: viewers' playlist requests per part).
Correctness: viewer errors and non-200 answers, parts fetched from the origin more than once.
The last line is one JSON object (../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import edge as edgebench  # noqa: E402  (bench/edge.py: the stack's parts)

PY = edgebench.PY
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pc_bench_latency"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
edgebench.PORTS = range(18900, 19000)  # this bench's own ports
edgebench.DATABASE_URL, edgebench.REDIS_URL = DATABASE_URL, REDIS_URL
TARGET_DURATION = 2
PART_SECONDS = 0.5
VIEWER_PROCESSES = 2
HLS_JS = ROOT / "node_modules" / "hls.js" / "dist" / "hls.min.js"
PART = re.compile(r'^#EXT-X-PART:.*URI="([^"]+)"', re.M)
HINT = re.compile(r'^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d+)_(\d+)\.\w+"', re.M)


# --- LL-HLS viewers -----------------------------------------------------------------------------


class LowLatencyViewer:
    """Acts like an LL-HLS player: a blocking reload for the hinted part, then the new parts."""

    def __init__(self, port: int, media: str, stats: dict, until: float) -> None:
        self.port, self.media, self.stats, self.until = port, media, stats, until
        self.folder = media.rsplit("/", 1)[0] + "/"
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, kind: str) -> bytes | None:
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = await asyncio.open_connection("127.0.0.1", self.port)
                self.conn[1].write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                head, body = await edgebench.read_response(self.conn[0])
            except (OSError, asyncio.IncompleteReadError):
                self.conn = None
                self.stats["errors"] += 1
                continue
            self.stats["requests"][kind] += 1
            self.stats["cache"][edgebench.header(head, b"x-cache-status") or "-"] += 1
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                self.stats["status"][f"{kind} {status}"] += 1
                return None
            return body
        return None

    async def run(self) -> None:
        import random

        await asyncio.sleep(random.random() * TARGET_DURATION)
        fetched: set[str] | None = None
        query = ""
        while time.monotonic() < self.until:
            body = await self.get(self.media + query, "playlist")
            if body is None:
                query = ""
                await asyncio.sleep(0.5)
                continue
            text = body.decode()
            parts = PART.findall(text)
            if fetched is None:  # start 3 parts back from the live edge
                fetched = set(parts[:-3])
            for uri in parts:
                if uri not in fetched and time.monotonic() < self.until:
                    await self.get(self.folder + uri, "part")
                    fetched.add(uri)
            hint = HINT.search(text)
            if hint is None:  # the stream ended or is not low latency
                query = ""
                await asyncio.sleep(TARGET_DURATION / 2)
                continue
            query = f"?_HLS_msn={hint[1]}&_HLS_part={hint[2]}"
        if self.conn is not None:
            self.conn[1].close()


def run_viewers(port: int, media: str, count: int, seconds: float, out: str) -> None:
    # The load generator yields the CPU to what is measured (servers, encoders, the browser):
    # on a real deployment the viewers are elsewhere.
    os.nice(10)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    stats: dict = {"requests": Counter(), "cache": Counter(), "status": Counter(), "errors": 0}

    async def main() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(LowLatencyViewer(port, media, stats, until).run() for _ in range(count))
        )

    asyncio.run(main())
    Path(out).write_text(json.dumps(stats))


# --- the stack ----------------------------------------------------------------------------------


def prepare(env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """A fresh bench database and two live events' streams: mode → (public_id, key)."""
    dbname = DATABASE_URL.rsplit("/", 1)[1]
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force",
                    dbname], check=True, capture_output=True)  # fmt: skip
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname], check=True)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    code = (
        "import django,json;django.setup();"
        "from datetime import timedelta;from django.utils import timezone;"
        "from events.models import *;from streaming import services;"
        "c=Campaign.objects.create(slug='bench',name='Bench',legal_name='Bench');"
        "now=timezone.now();out={}\n"
        "for mode in ('standard','low'):\n"
        " e=Event.objects.create(slug='bench-'+mode,campaign=c,title='Bench',starts_at=now,"
        "ends_at=now+timedelta(days=1),capacity_tier=CapacityTier.objects.order_by('pk').first(),"
        "goal_minor=100,status='live')\n"
        " s,k=services.create_stream(event_id=e.pk)\n"
        " services.set_delivery_options(stream_id=s.pk,ladder=s.ladder,signed_playback=False,"
        "latency=mode)\n"
        " out[mode]=[s.public_id,k]\n"
        "print(json.dumps(out))"
    )
    out = subprocess.run([PY, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True)
    return {k: tuple(v) for k, v in json.loads(out.stdout.decode().splitlines()[-1]).items()}


PAGE_JS = """
([url, low]) => {
  const video = document.createElement("video");
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.appendChild(video);
  const options = low
    ? {lowLatencyMode: true}
    : {lowLatencyMode: false, liveSyncDurationCount: 3, liveMaxLatencyDurationCount: 10};
  const hls = new Hls(options);
  window.pcSamples = [];
  window.pcMeasure = false;
  hls.loadSource(url);
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  setInterval(() => {
    if (!window.pcMeasure || video.paused || !hls.playingDate) return;
    window.pcSamples.push((Date.now() - hls.playingDate.getTime()) / 1000);
  }, 250);
  window.pcHls = hls; window.pcVideo = video;
}
"""


def open_player(browser, edge_port: int, master: str, *, low: bool):
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{edge_port}/")  # the edge's origin: no CORS in the way
    page.set_content("<!doctype html><title>latency</title><body></body>")
    page.add_script_tag(path=str(HLS_JS))
    page.evaluate(PAGE_JS, [f"http://127.0.0.1:{edge_port}{master}", low])
    return page


def playing(page) -> bool:
    check = ("() => !!(window.pcHls && window.pcHls.playingDate && !window.pcVideo.paused "
             "&& window.pcVideo.currentTime > 0)")  # fmt: skip
    return bool(page.evaluate(check))


def bench(*, quick: bool, viewers: int) -> None:
    seconds = 15 if quick else 60
    warmup = 6 if quick else 10
    tmp = Path(tempfile.mkdtemp(prefix="pc-bench-latency-"))
    media_root = tmp / "media"
    media_root.mkdir()
    taken: set[int] = set()
    web_port, origin_port, proxy_port, edge_port = (edgebench.free_port(taken) for _ in range(4))
    env = edgebench.server_env(media_root, web_port)
    env["HLS_TARGET_DURATION"] = str(TARGET_DURATION)
    env["HLS_PART_TARGET_MS"] = str(int(PART_SECONDS * 1000))
    stack = edgebench.Stack()
    try:
        streams = prepare(env)
        log = (tmp / "servers.log").open("wb")
        stack.start([PY, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                     "--port", str(web_port), "--no-access-log", "--log-level", "warning",
                     "--lifespan", "off"], cwd=ROOT, env=env, stdout=log,
                    stderr=subprocess.STDOUT)  # fmt: skip
        edgebench.wait_until(lambda: edgebench.http_ok(web_port, "/healthz"), 30, "the web")
        origin = subprocess.run(
            [PY, "manage.py", "nginx_origin_conf", "--listen", f"127.0.0.1:{origin_port}",
             "--upstream", f"127.0.0.1:{web_port}"],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        stack.start(["nginx", "-c", str(edgebench.nginx_conf(tmp, "origin", origin)),
                     "-p", str(tmp)])  # fmt: skip
        stack.start([PY, __file__, "--role", "proxy", "--port", str(proxy_port),
                     "--origin-port", str(origin_port)])  # fmt: skip
        cache = tmp / "cache"
        cache.mkdir()
        edge_conf = subprocess.run(
            [PY, "manage.py", "nginx_edge_conf", "--listen", f"127.0.0.1:{edge_port}",
             "--origin", f"127.0.0.1:{proxy_port}", "--origin-host", "127.0.0.1",
             "--cache-dir", str(cache), "--access-log", "off"],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        stack.start(["nginx", "-c", str(edgebench.nginx_conf(tmp, "edge", edge_conf)),
                     "-p", str(tmp)])  # fmt: skip
        sys.path.insert(0, str(ROOT))
        from streaming import teststream

        for mode, (public_id, key) in streams.items():
            stack.start(teststream.push_command(
                ingest_url=f"http://127.0.0.1:{web_port}/streaming/ingest/{public_id}", key=key,
                target_duration=TARGET_DURATION,
                segment_seconds=PART_SECONDS if mode == "low" else None,
            ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        masters = {mode: f"/live/{pid}/master.m3u8" for mode, (pid, _) in streams.items()}
        for mode, master in masters.items():
            edgebench.wait_until(lambda m=master: edgebench.http_ok(edge_port, m), 40,
                                 f"the {mode} stream at the edge")  # fmt: skip
        print(f"cpus={os.cpu_count()} load={os.getloadavg()} viewers={viewers} in "
              f"{VIEWER_PROCESSES} processes on the low stream; {seconds} s measured after "
              f"{warmup} s of warm-up; edge: nginx 2 workers; origin: nginx + 1 uvicorn; "
              "2 ffmpeg encoders (ultrafast 640x360)")  # fmt: skip
        results = measure(edge_port=edge_port, proxy_port=proxy_port, masters=masters,
                          streams=streams, viewers=viewers, seconds=seconds, warmup=warmup,
                          tmp=tmp)  # fmt: skip
        results["load_after"] = [round(x, 2) for x in os.getloadavg()]
        if os.environ.get("BENCH_DEBUG"):
            lines = (tmp / "servers.log").read_text().splitlines()
            print("\n".join(x for x in lines if "Not Found" not in x)[-6000:])
            for name in ("edge", "origin"):
                print((tmp / f"{name}.error.log").read_text()[-3000:])
    finally:
        stack.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, viewers=viewers, seconds=seconds)


def measure(*, edge_port: int, proxy_port: int, masters: dict, streams: dict, viewers: int,
            seconds: float, warmup: float, tmp: Path) -> dict:  # fmt: skip
    from playwright.sync_api import sync_playwright

    low_id = streams["low"][0]
    media = f"/live/{low_id}/stream/index.m3u8"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("Debian's chromium is needed (apt-get install chromium)")
    with sync_playwright() as p:
        flags = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]
        browser = p.chromium.launch(executable_path=chromium, args=flags)
        pages = {mode: open_player(browser, edge_port, masters[mode], low=mode == "low")
                 for mode in masters}  # fmt: skip
        for mode, page in pages.items():
            edgebench.wait_until(lambda pg=page: playing(pg), 40, f"the {mode} player")
        per = -(-viewers // VIEWER_PROCESSES)
        procs, outs = [], []
        for i in range(VIEWER_PROCESSES):
            out = tmp / f"viewers-{i}.json"
            outs.append(out)
            procs.append(subprocess.Popen([
                PY, __file__, "--role", "viewers", "--port", str(edge_port), "--media", media,
                "--count", str(min(per, viewers - i * per)),
                "--seconds", str(warmup + seconds), "--out", str(out),
            ]))  # fmt: skip
        # Warm-up: the viewers start (spread over a target duration) and the players settle.
        end_warmup = time.monotonic() + warmup
        while time.monotonic() < end_warmup:
            for page in pages.values():
                page.wait_for_timeout(200)
        urllib.request.urlopen(f"http://127.0.0.1:{proxy_port}/__bench/reset", timeout=5).read()
        for page in pages.values():
            page.evaluate("() => { window.pcSamples = []; window.pcMeasure = true; }")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            next(iter(pages.values())).wait_for_timeout(250)
        samples = {mode: page.evaluate("() => window.pcSamples") for mode, page in pages.items()}
        counts = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{proxy_port}/__bench/counts", timeout=5).read())  # fmt: skip
        stalls = {mode: page.evaluate("() => window.pcVideo.currentTime")
                  for mode, page in pages.items()}  # fmt: skip
        browser.close()
    for proc in procs:
        proc.wait(60)
    load: dict = {"requests": Counter(), "cache": Counter(), "status": Counter(), "errors": 0}
    for out in outs:
        part = json.loads(out.read_text())
        load["requests"].update(part["requests"])
        load["cache"].update(part["cache"])
        load["status"].update(part["status"])
        load["errors"] += part["errors"]
    low_prefix = f"/live/{low_id}/"
    playlist_hits = {p: n for p, n in counts.items() if p.startswith(low_prefix)
                     and ".m3u8" in p and "master" not in p}  # fmt: skip
    part_fetches = {p: n for p, n in counts.items()
                    if p.startswith(low_prefix) and re.search(r"/\d+_\d+\.ts$", p)}  # fmt: skip
    parts = max(1, len(part_fetches))
    if os.environ.get("BENCH_DEBUG"):
        print(sorted(playlist_hits.items(), key=lambda kv: -kv[1])[:8])
    pct = edgebench.percentile
    return {
        "samples": {mode: len(v) for mode, v in samples.items()},
        "standard_p50_s": round(pct(samples["standard"], 0.5), 2),
        "standard_p95_s": round(pct(samples["standard"], 0.95), 2),
        "low_p50_s": round(pct(samples["low"], 0.5), 2),
        "low_p95_s": round(pct(samples["low"], 0.95), 2),
        "parts_in_window": len(part_fetches),
        "expected_parts": round(seconds / PART_SECONDS),
        "origin_playlist_requests": sum(playlist_hits.values()),
        "origin_requests_per_part": round(sum(playlist_hits.values()) / parts, 3),
        "origin_part_fetches_per_part": round(sum(part_fetches.values()) / parts, 3),
        "max_origin_fetches_per_part": max(part_fetches.values(), default=0),
        "viewer_playlist_requests": load["requests"]["playlist"],
        "viewer_part_requests": load["requests"]["part"],
        "baseline_origin_requests_per_part": round(load["requests"]["playlist"] / parts, 1),
        "cache": dict(load["cache"]),
        "non_200": dict(load["status"]),
        "errors": load["errors"],
        "player_positions_s": {m: round(v, 1) for m, v in stalls.items()},
    }


def report(r: dict, *, viewers: int, seconds: float) -> None:
    ratio = r["low_p95_s"] / r["standard_p95_s"] if r["standard_p95_s"] else 0.0
    print(f"\n{'glass to glass (s)':28}{'p50':>8}{'p95':>8}{'samples':>9}")
    print(f"{'standard (baseline)':28}{r['standard_p50_s']:>8}{r['standard_p95_s']:>8}"
          f"{r['samples']['standard']:>9}")  # fmt: skip
    print(f"{'low (LL-HLS)':28}{r['low_p50_s']:>8}{r['low_p95_s']:>8}{r['samples']['low']:>9}")
    print(f"low / standard p95: {ratio:.2f} (goal: low p95 <= 4 s)")
    print(
        f"low stream, {viewers} LL viewers on the edge, {seconds} s: "
        f"{r['parts_in_window']} parts (expected ~{r['expected_parts']}); origin playlist "
        f"requests {r['origin_playlist_requests']} = {r['origin_requests_per_part']} per part "
        f"(goal <= 1 per edge); baseline without collapsing: "
        f"{r['baseline_origin_requests_per_part']} per part (viewers' playlist requests "
        f"{r['viewer_playlist_requests']}); part files from the origin "
        f"{r['origin_part_fetches_per_part']} per part (max {r['max_origin_fetches_per_part']})"
    )
    print(
        f"viewers: parts fetched {r['viewer_part_requests']}, cache {r['cache']}, "
        f"non-200 {r['non_200']}, errors {r['errors']}; load after {r['load_after']}"
    )
    print(json.dumps({"bench": "latency", "cpus": os.cpu_count(), "results": {
        "viewers": viewers, "seconds": seconds,
        "standard_p50_s": r["standard_p50_s"], "standard_p95_s": r["standard_p95_s"],
        "low_p50_s": r["low_p50_s"], "low_p95_s": r["low_p95_s"],
        "ratio_low_to_standard_p95": round(ratio, 3),
        "origin_requests_per_part": r["origin_requests_per_part"],
        "origin_part_fetches_per_part": r["origin_part_fetches_per_part"],
        "baseline_origin_requests_per_part": r["baseline_origin_requests_per_part"],
        "parts_in_window": r["parts_in_window"], "errors": r["errors"],
        "non_200": sum(r["non_200"].values()),
    }}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--role", default="bench", choices=["bench", "viewers", "proxy"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--origin-port", type=int)
    parser.add_argument("--media")
    parser.add_argument("--count", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.role == "viewers":
        run_viewers(args.port, args.media, args.count, args.seconds, args.out)
    elif args.role == "proxy":
        edgebench.run_proxy(args.port, args.origin_port)
    else:
        bench(quick=args.quick, viewers=args.viewers)


if __name__ == "__main__":
    main()
