"""Live captions benchmark: how fast speech recognition runs, and how late captions come.

    .venv/bin/python bench/captions.py [--quick]

It starts one web process (ingest and origin, on PostgreSQL and Redis) and the stream worker
(whose captioner thread recognises speech with pocketsphinx), and pushes a live stream with
ffmpeg (`-re`, 2-second segments, one rendition) whose audio is five sentences spoken by
Debian's espeak-ng with 1.5 s pauses, looped; the stream has automatic captions.

- `caption_delay_p95_s`: for each recognised utterance, its cue's start minus the end of the
  speech it captions, both on the program's clock (the segments' program date-times): how
  long after the words a viewer sees them. Goal ≤ 5 s. Baseline in the same run: a perfect
  human captioner (CART) who posts each sentence the instant it is said (the bench posts it
  at the sentence's end): the pipeline's own floor (a cue waits for the next segment).
- `realtime_factor`: media seconds recognised per wall second, on the segments this run
  published, as the captioner does it (ffmpeg decode to 16 kHz mono, then pocketsphinx), in
  this process (not the servers'). Goal ≥ 2. Baseline: the ffmpeg decode alone.

Also `cart_visible_p95_s`: from a CART post to its cue in a caption segment the origin
serves (goal ≤ 2 s with 2-second segments). Correctness: every sentence posted got its cue
(`lost`) and was served (`cart_not_visible`), and the share of spoken words the recognizer
heard (`word_overlap`). The last line is one JSON object (BENCH.md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(18600, 18700)
TARGET_DURATION = 2
PAUSE_S = 1.5
SENTENCES = [
    "Thank you all for joining us tonight.",
    "Every gift helps our campaign reach more voters this fall.",
    "We have raised half of our goal in the first hour.",
    "Please share this stream with your friends and family.",
    "Together we can make a real difference in our community.",
]


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18600-18699")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def speech_file(folder: Path, ffmpeg: str) -> tuple[Path, list[float], float]:
    """The looped audio: each sentence then a pause; (file, each sentence's end in seconds,
    the loop's length)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("bench/captions.py needs Debian's espeak-ng (apt-get install espeak-ng)")
    parts, ends, at = [], [], 0.0
    for n, sentence in enumerate(SENTENCES):
        said = folder / f"s{n}.wav"
        subprocess.run([espeak, "-v", "en-us", "-s", "140", "-w", str(said), sentence], check=True)
        padded = folder / f"p{n}.wav"
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(said),
                        "-af", f"apad=pad_dur={PAUSE_S}", "-ar", "16000", "-ac", "1",
                        str(padded)], check=True)  # fmt: skip
        probe = subprocess.run(
            [ffmpeg.replace("ffmpeg", "ffprobe"), "-v", "error", "-show_entries",
             "format=duration", "-of", "csv=p=0", str(said)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        at += float(probe.stdout.strip())
        ends.append(at)
        at += PAUSE_S
        parts.append(padded)
    listing = folder / "parts.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    whole = folder / "speech.wav"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe",
                    "0", "-i", str(listing), str(whole)], check=True)  # fmt: skip
    return whole, ends, at


def wait_ready(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the web process exited at start")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the web process did not start")


def post_caption(port: int, public_id: str, key: str, text: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", f"/streaming/captions/{public_id}", body=text.encode(),
                     headers={"Authorization": f"Bearer {key}",
                              "Content-Type": "text/plain"})  # fmt: skip
        response = conn.getresponse()
        return {"status": response.status, **json.loads(response.read() or b"{}")}
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds = 45 if args.quick else 180
    tmp = Path(tempfile.mkdtemp(prefix="bench-captions-"))
    media = tmp / "media"
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz0123",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pc_bench_captions"
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
        "MEDIA_ROOT": str(media),
        "HLS_TARGET_DURATION": str(TARGET_DURATION),
        "LOG_LEVEL": "ERROR",
    }
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name],
                   capture_output=True, check=False)  # fmt: skip
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from events.models import Campaign, CapacityTier, Event, EventStatus
    from streaming import ffmpeg, services, teststream
    from streaming.captions import captioner, cues, recognizers, rendition, webvtt
    from streaming.models import CaptionCue, CaptionMode, CaptionSource, Segment, Stream

    call_command("migrate", verbosity=0)
    procs: list[subprocess.Popen] = []

    def stop_all() -> None:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    cart: list[dict] = []
    try:
        audio, ends, period = speech_file(tmp, ffmpeg.ffmpeg_path())
        campaign, _ = Campaign.objects.get_or_create(
            slug="bench-captions", defaults={"name": "Bench", "legal_name": "Bench Committee"}
        )
        now = timezone.now()
        event = Event.objects.create(
            campaign=campaign, title="Captions bench", slug=f"bench-captions-{time.time_ns()}",
            starts_at=now, ends_at=now + timedelta(hours=1), goal_minor=100,
            capacity_tier=CapacityTier.objects.order_by("max_attendees").first(),
            status=EventStatus.SCHEDULED,
        )  # fmt: skip
        stream, key = services.create_stream(event_id=event.pk)
        Stream.objects.filter(pk=stream.pk).update(captions=CaptionMode.AUTO)
        caption_key = cues.rotate_caption_key(stream_id=stream.pk)

        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"], env={**os.environ, **env}, cwd=ROOT,
            start_new_session=True,
        ))  # fmt: skip
        wait_ready(port, procs[-1])
        procs.append(subprocess.Popen(
            [sys.executable, "manage.py", "stream_worker", "--interval", "1"],
            env={**os.environ, **env}, cwd=ROOT, start_new_session=True,
        ))  # fmt: skip
        push = ffmpeg.start(teststream.push_command(
            ingest_url=f"http://127.0.0.1:{port}/streaming/ingest/{stream.public_id}", key=key,
            target_duration=TARGET_DURATION, seconds=seconds, audio=str(audio),
        ), stderr=subprocess.DEVNULL)  # fmt: skip
        procs.append(push)

        # The audio's zero on the program's clock: the first segment's date-time.
        deadline = time.monotonic() + 60
        first = None
        while first is None and time.monotonic() < deadline:
            first = Segment.objects.filter(rendition__stream=stream, seq=0).first()
            time.sleep(0.1)
        if first is None:
            raise RuntimeError("no segment arrived")
        zero = first.program_date_time

        folder = media / "live" / stream.public_id / rendition.FOLDER
        zero_clock = rendition.epoch(Stream.objects.get(pk=stream.pk))

        def watch_visible(entry: dict, posted: float) -> None:
            """When the posted cue is in a caption segment the origin serves."""
            start = datetime.fromisoformat(entry["start"])
            line = webvtt.timestamp((start - zero_clock).total_seconds()) + " --> "
            until = time.monotonic() + 10
            while time.monotonic() < until:
                newest = sorted(folder.glob("*.vtt"), key=lambda p: p.stat().st_mtime)[-3:]
                if any(line in p.read_text() for p in newest):
                    entry["visible_s"] = time.perf_counter() - posted
                    return
                time.sleep(0.02)

        # The perfect captioner: each sentence posted the instant it ends.
        def captioner_at_the_keyboard() -> None:
            loop = 0
            while True:
                for n, end in enumerate(ends):
                    said_at = zero + timedelta(seconds=loop * period + end)
                    if (said_at - zero).total_seconds() > seconds - 2:
                        return
                    wait = (said_at - datetime.now(UTC)).total_seconds()
                    if wait > 0:
                        time.sleep(wait)
                    posted = time.perf_counter()
                    answer = post_caption(port, stream.public_id, caption_key, SENTENCES[n])
                    entry = {"said_at": said_at, **answer}
                    cart.append(entry)
                    if answer["status"] == 201:
                        threading.Thread(
                            target=watch_visible, args=(entry, posted), daemon=True
                        ).start()
                loop += 1

        poster = threading.Thread(target=captioner_at_the_keyboard, daemon=True)
        poster.start()
        push.wait(seconds + 60)
        poster.join(30)
        load = os.getloadavg()[0]
    finally:
        stop_all()

    recognised = list(CaptionCue.objects.filter(stream=stream, source=CaptionSource.AUTO))
    asr_delays = [(c.start - c.spoken_end).total_seconds() for c in recognised if c.spoken_end]
    cart_delays = [
        (datetime.fromisoformat(p["start"]) - p["said_at"]).total_seconds()
        for p in cart
        if p["status"] == 201
    ]
    lost = sum(1 for p in cart if p["status"] != 201)
    visible = [p["visible_s"] for p in cart if "visible_s" in p]
    heard = words(" ".join(c.text for c in recognised))
    spoken = words(" ".join(SENTENCES))

    # The recognizer's speed on this run's segments, as the captioner runs it.
    anchor = Stream.objects.get(pk=stream.pk).caption_anchor
    paths = [
        media / "live" / stream.public_id / anchor / s.file_name
        for s in Segment.objects.filter(rendition__stream=stream, rendition__name=anchor)
    ][: 30 if args.quick else 90]
    media_s = sum(
        s.duration for s in Segment.objects.filter(rendition__stream=stream,
                                                   rendition__name=anchor)[: len(paths)]
    )  # fmt: skip
    started = time.perf_counter()
    pcms = [captioner.decode(str(p)) for p in paths]
    decode_s = time.perf_counter() - started
    recognizer = recognizers.PocketsphinxRecognizer()
    started = time.perf_counter()
    for pcm in pcms:
        recognizer.feed(pcm)
    recognizer.flush()
    recognise_s = time.perf_counter() - started
    shutil.rmtree(tmp, ignore_errors=True)

    ratio = None
    if asr_delays and cart_delays and percentile(cart_delays, 95) > 0:
        ratio = round(percentile(asr_delays, 95) / percentile(cart_delays, 95), 2)
    results = {
        "realtime_factor": round(media_s / (decode_s + recognise_s), 2),
        "caption_delay_p95_s": round(percentile(asr_delays, 95), 2) if asr_delays else None,
        "caption_delay_p50_s": round(percentile(asr_delays, 50), 2) if asr_delays else None,
        "baseline_decode_only_realtime_factor": round(media_s / decode_s, 2),
        "baseline_cart_delay_p95_s": round(percentile(cart_delays, 95), 2) if cart_delays else None,
        "baseline_cart_delay_p50_s": round(percentile(cart_delays, 50), 2) if cart_delays else None,
        "ratio_delay_p95_to_cart": ratio,
        "cart_visible_p95_s": round(percentile(visible, 95), 2) if visible else None,
        "cart_not_visible": len(cart) - lost - len(visible),
        "media_seconds_recognised": round(media_s, 1),
        "utterances": len(recognised),
        "word_overlap": round(len(heard & spoken) / len(spoken), 2),
        "cart_posted": len(cart),
        "lost": lost,
        "engine": "pocketsphinx 5.1.1 (en-us)",
        "target_duration_s": TARGET_DURATION,
        "server_processes": 2,
        "load_avg_1m": round(load, 2),
    }  # fmt: skip
    r = results
    print(f"{'figure':34} {'ours':>8} {'baseline':>9}")
    print(
        f"{'real-time factor (x, goal >= 2)':34} {r['realtime_factor']:>8} "
        f"{r['baseline_decode_only_realtime_factor']:>9}  (baseline: ffmpeg decode alone)"
    )
    print(
        f"{'caption delay p95 (s, goal <= 5)':34} {r['caption_delay_p95_s']!s:>8} "
        f"{r['baseline_cart_delay_p95_s']!s:>9}  (baseline: instant CART)  ratio "
        f"{r['ratio_delay_p95_to_cart']}"
    )
    print(
        f"{'caption delay p50 (s)':34} {r['caption_delay_p50_s']!s:>8} "
        f"{r['baseline_cart_delay_p50_s']!s:>9}"
    )
    print(f"{'CART post to served cue p95 (s)':34} {r['cart_visible_p95_s']!s:>8}  (goal <= 2)")
    print(f"utterances {r['utterances']}, words heard {r['word_overlap']:.0%} of those spoken, "
          f"CART posts {r['cart_posted']} (lost {lost}); cpus {os.cpu_count()}, "
          f"2 server processes, load {r['load_avg_1m']}")  # fmt: skip
    print(json.dumps({"bench": "captions", "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
