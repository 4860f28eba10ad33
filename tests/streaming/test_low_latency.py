"""Low latency (LL-HLS, issue 18): the writer groups an encoder's short segments into parts of
segments regular clients read; blocking playlist reloads are answered by the origin when the
part appears (400 for bad directives, 503 past the bound); the edge collapses identical
blocking reloads into one origin request. The tests' target duration is 1 s, the part target
0.5 s: two parts make a segment."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from streaming import services
from streaming.blocking import BlockingReloadApp
from streaming.models import Segment, Stream
from streaming.storage import get_storage
from tests.streaming import hls_checks
from tests.support import wait_for
from tests.support.streaming import deliver, http_get, served


def set_latency(stream: Stream, latency: str) -> None:
    services.set_delivery_options(
        stream_id=stream.pk, ladder=stream.ladder, signed_playback=False, latency=latency
    )
    stream.refresh_from_db()


def part(uri: str, duration: float = 0.5) -> str:
    return f'#EXT-X-PART:DURATION={duration:.5f},URI="{uri}",INDEPENDENT=YES'


# --- the writer ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_parts_make_segments_regular_clients_read_and_ll_clients_see_the_parts(stream):
    set_latency(stream, "low")
    deliver(stream, 0, 5, duration=0.5)  # parts 0-1 → segment 0, 2-3 → 1, 4 → open segment 2
    text = served(stream)
    media = hls_checks.parse(text)
    # A regular client: complete segments of two parts each, as before.
    assert [(s.uri, s.duration) for s in media.segments] == [("0.ts", 1.0), ("1.ts", 1.0)]
    storage = get_storage()
    assert storage.size(f"live/{stream.public_id}/v/0.ts") == 188 * (1 + 2)
    assert storage.size(f"live/{stream.public_id}/v/2_0.ts") == 188 * 5
    lines = text.splitlines()
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500" in lines
    assert "#EXT-X-PART-INF:PART-TARGET=0.500" in lines
    # Each segment's parts before it, the open segment's after the last one, then the hint.
    at = lines.index("1.ts")
    assert lines[at - 3 : at - 1] == [part("1_0.ts"), part("1_1.ts")]
    assert lines[-2:] == [part("2_0.ts"), '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="2_1.ts"']
    assert Segment.objects.get(rendition__stream=stream, seq=0).parts == [0.5, 0.5]
    assert hls_checks.m3u8_failures({"v": text}) == []
    assert hls_checks.hls_parser_strict_failures({"v": text}) == []

    # Back to standard: the open segment is complete as it is; no LL tags any more.
    set_latency(stream, "standard")
    deliver(stream, 5, 1, duration=1.0)
    text = served(stream)
    assert "#EXT-X-PART" not in text
    assert "PRELOAD-HINT" not in text
    assert [(s.uri, s.duration) for s in hls_checks.parse(text).segments][-2:] == [
        ("2.ts", 0.5), ("3.ts", 1.0),
    ]  # fmt: skip


@pytest.mark.django_db
def test_the_shows_end_completes_the_open_segment(live_stream):
    set_latency(live_stream, "low")
    deliver(live_stream, 2, 1, duration=0.5)
    services.end_stream(stream_id=live_stream.pk)
    text = served(live_stream)
    assert text.endswith("2.ts\n#EXT-X-ENDLIST\n")
    assert "PRELOAD-HINT" not in text
    assert "SERVER-CONTROL" not in text


# --- blocking reloads at the origin ---------------------------------------------------------------


async def _passed(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Stands in for Django behind the layer: says the request reached it."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"passed"})


async def _call(app: BlockingReloadApp, path: str, query: str) -> tuple[int, bytes, dict]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode()}
    await app(scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0].get("headers", [])}
    return sent[0]["status"], sent[1]["body"], headers


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    for task in asyncio.all_tasks(loop):
        task.cancel()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


@pytest.mark.django_db
def test_a_blocking_reload_is_answered_when_its_part_appears(live_stream, loop):
    set_latency(live_stream, "low")
    deliver(live_stream, 2, 3, duration=0.5)  # segment 2 complete, part 3_0 open
    app = BlockingReloadApp(_passed)
    path = f"/live/{live_stream.public_id}/v/index.m3u8"
    # What the playlist holds already: at once.
    for query in ("_HLS_msn=2", "_HLS_msn=3&_HLS_part=0", "_HLS_msn=1&_HLS_part=5"):
        assert loop.run_until_complete(_call(app, path, query))[:2] == (200, b"passed"), query
    waiting = loop.create_task(_call(app, path, "_HLS_msn=3&_HLS_part=1"))
    whole = loop.create_task(_call(app, path, "_HLS_msn=3"))
    loop.run_until_complete(asyncio.sleep(0.3))
    assert not waiting.done()
    assert not whole.done()
    deliver(live_stream, 5, 1, duration=0.5)  # part 3_1: segment 3 is complete
    assert loop.run_until_complete(asyncio.wait_for(waiting, 5))[:2] == (200, b"passed")
    assert loop.run_until_complete(asyncio.wait_for(whole, 5))[:2] == (200, b"passed")


@pytest.mark.django_db
def test_bad_directives_get_a_400_and_a_wait_is_bounded(live_stream, loop):
    set_latency(live_stream, "low")
    deliver(live_stream, 2, 1, duration=0.5)  # newest: part 2_0
    app = BlockingReloadApp(_passed, max_wait_s=0.2)
    path = f"/live/{live_stream.public_id}/v/index.m3u8"
    cases = {
        "_HLS_msn=-1": b"_HLS_msn must be a whole number from 0 up, not '-1'.\n",
        "_HLS_msn=abc": b"_HLS_msn must be a whole number from 0 up, not 'abc'.\n",
        "_HLS_msn=2&_HLS_part=1.5": b"_HLS_part must be a whole number from 0 up, not '1.5'.\n",
        "_HLS_part=1": b"_HLS_part needs _HLS_msn (RFC 8216bis \xc2\xa76.2.5.2).\n",
        "_HLS_msn=99999": b"_HLS_msn=99999 is too far ahead: the playlist's last segment is 2, "
        b"so at most 4 may be asked.\n",
        "_HLS_msn=2&_HLS_part=40": b"_HLS_part=40 is too far ahead of the playlist's last part.\n",
    }
    for query, message in cases.items():
        status, body, headers = loop.run_until_complete(_call(app, path, query))
        assert (status, body, headers["cache-control"]) == (400, message, "no-store"), query
    status, body, headers = loop.run_until_complete(_call(app, path, "_HLS_msn=3&_HLS_part=0"))
    assert (status, body) == (503, b"Not yet: segment 3 part 0 did not come; ask again.\n")
    assert headers["cache-control"] == "no-store"
    # A standard stream's playlist ignores the directives (it does not advertise blocking).
    set_latency(live_stream, "standard")
    other = f"/live/{live_stream.public_id}/w/index.m3u8"
    assert loop.run_until_complete(_call(app, other, "_HLS_msn=50"))[:2] == (200, b"passed")


# --- through the edge -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_edge_collapses_identical_blocking_reloads_into_one_origin_request(
    video_path, live_stream
):
    """Viewers waiting for the same part: one origin request (MISS), the others answered from
    its copy (HIT), all with the part they asked for; the playlist's answer is the origin's."""
    set_latency(live_stream, "low")
    deliver(live_stream, 2, 1, duration=0.5)  # newest: part 2_0
    path = f"/live/{live_stream.public_id}/v/index.m3u8?_HLS_msn=2&_HLS_part=1"
    viewers = 12
    answers: list[tuple[int, dict[str, str], bytes]] = []
    sent = threading.Semaphore(0)

    def viewer() -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", video_path.edge_port, timeout=10)
        conn.request("GET", path)
        sent.release()
        response = conn.getresponse()
        answers.append((response.status, dict(response.getheaders()), response.read()))
        conn.close()

    threads = [threading.Thread(target=viewer) for _ in range(viewers)]
    for thread in threads:
        thread.start()
    for _ in range(viewers):
        assert sent.acquire(timeout=10)
    deliver(live_stream, 3, 1, duration=0.5)  # part 2_1
    for thread in threads:
        thread.join(10)
    wait_for(lambda: len(answers) == viewers, 5, what="every viewer's answer")
    assert {status for status, _, _ in answers} == {200}
    assert all(b'URI="2_1.ts"' in body for _, _, body in answers)
    statuses = sorted(headers["X-Cache-Status"] for _, headers, _ in answers)
    assert statuses == ["HIT"] * (viewers - 1) + ["MISS"]
    assert answers[0][1]["cache-control"] == "public, max-age=6, stale-while-revalidate=6"
    # A bad directive is refused through the edge too, and never cached.
    bad = http_get(video_path.edge_port, path.replace("_HLS_msn=2", "_HLS_msn=-2"))
    assert (bad[0], bad[1]["cache-control"]) == (400, "no-store")
