"""Relay mode never fetches from inside: the admin and create_stream refuse a relay URL whose
host is not public, and the relay refuses again at every fetch (DNS answers change), stays on
the relay URL's origin, follows no redirect, and keeps nothing of a refused or oversized body.
The upstream is a real loopback server that records what it was asked."""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from events.models import Event, EventStatus
from streaming import relay, services
from streaming.models import Stream, StreamMode
from tests.support import processes, wait_for
from tests.support.streaming import (
    MAX_OBJECT_BYTES,
    UpstreamServer,
    hls_env,
    stored_files,
    temp_files,
)

pytestmark = pytest.mark.django_db


def write_playlist(directory, uris: list[str], *, name: str = "up.m3u8") -> None:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    for uri in uris:
        lines += ["#EXTINF:1.0,", uri]
    (directory / name).write_text("\n".join(lines) + "\n")


def write_segments(directory, count: int, size: int = 188) -> None:
    for seq in range(count):
        (directory / f"a{seq}.ts").write_bytes(b"\x47" * size)


def refusal(stream: Stream) -> str:
    stream.refresh_from_db()
    return stream.last_error


# --- Staff: the admin and create_stream -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/up.m3u8",
        "http://localhost/up.m3u8", "http://10.0.0.5/up.m3u8", "http://[::1]/up.m3u8",
        "ftp://example.com/up.m3u8",
    ],
)  # fmt: skip
def test_the_admin_refuses_a_relay_url_that_is_not_public(manager, scheduled_event, url):
    response = manager.post(
        reverse("admin:streaming_stream_add"),
        {"event": scheduled_event.pk, "mode": "relay", "relay_url": url, "record": "on"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["relay_url"]
    assert errors[0].startswith("This URL cannot be relayed: ")
    assert not Stream.objects.filter(event=scheduled_event).exists()


def test_the_admin_needs_a_relay_url_in_relay_mode(manager, scheduled_event):
    response = manager.post(
        reverse("admin:streaming_stream_add"),
        {"event": scheduled_event.pk, "mode": "relay", "relay_url": "", "record": "on"},
    )
    errors = response.context["adminform"].form.errors["relay_url"]
    assert errors == ["Relay mode needs the upstream playlist URL."]
    assert not Stream.objects.filter(event=scheduled_event).exists()


def test_the_admin_accepts_an_upstream_in_the_operators_allowed_network(
    manager, scheduled_event, relay_upstream
):
    _, url = relay_upstream
    response = manager.post(
        reverse("admin:streaming_stream_add"),
        {"event": scheduled_event.pk, "mode": "relay", "relay_url": url, "record": "on"},
    )
    assert response.status_code == 302
    assert Stream.objects.get(event=scheduled_event).relay_url == url


def test_the_admin_refuses_changing_a_relay_url_to_an_inside_address(manager, relay_stream):
    before = relay_stream.relay_url
    response = manager.post(
        reverse("admin:streaming_stream_change", args=[relay_stream.pk]),
        {"relay_url": "http://169.254.169.254/latest/", "ladder": "passthrough"},
    )
    assert response.status_code == 200
    assert "This URL cannot be relayed" in response.context["adminform"].form.errors["relay_url"][0]
    relay_stream.refresh_from_db()
    assert relay_stream.relay_url == before


def test_create_stream_refuses_an_inside_relay_url(scheduled_event):
    with pytest.raises(ValidationError) as refused:
        services.create_stream(
            event_id=scheduled_event.pk, mode=StreamMode.RELAY, relay_url="http://2130706433/up"
        )
    assert "127.0.0.1, a loopback address" in refused.value.messages[0]
    assert not Stream.objects.filter(event=scheduled_event).exists()


# --- The relay, at fetch time -----------------------------------------------------------------


def test_the_relay_refuses_at_fetch_time_when_the_address_is_no_longer_allowed(
    settings, upstream, relay_stream, media_root
):
    write_segments(upstream.directory, 3)
    write_playlist(upstream.directory, ["a0.ts", "a1.ts", "a2.ts"])
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # the check passed at creation; not any more
    assert relay.poll_relay(stream_id=relay_stream.pk) == 0
    assert "127.0.0.1, a loopback address" in refusal(relay_stream)
    assert refusal(relay_stream).startswith("Upstream: playlist: ")
    assert upstream.requested == []
    assert stored_files(media_root, relay_stream.public_id) == []


@pytest.mark.django_db(transaction=True)
def test_the_stream_worker_records_the_refusal(settings, tmp_path, scheduled_event, media_root):
    """A worker process as production runs it. Its upstream is on 127.0.0.2, which this
    process allows for creating the stream and no server of the run allows (the session's
    stream worker refuses it too)."""
    upstream = UpstreamServer(tmp_path, host="127.0.0.2")
    try:
        settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.2/32")]
        stream, _ = services.create_stream(
            event_id=scheduled_event.pk, mode=StreamMode.RELAY, relay_url=upstream.url("/up.m3u8")
        )
        write_segments(tmp_path, 3)
        write_playlist(tmp_path, ["a0.ts", "a1.ts", "a2.ts"])

        def one_round() -> bool:
            # A round sweeps every stream before the relays, and a round whose sweep fails
            # skips them until the next one (seen once in a full run beside the session's
            # worker): poll rounds, not one.
            worker = subprocess.run(
                [sys.executable, "manage.py", "stream_worker", "--once"],
                cwd=processes.ROOT, env=processes.server_env(hls_env(media_root)), check=True,
                timeout=60, capture_output=True, text=True,
            )  # fmt: skip
            return "127.0.0.2, a loopback address" in worker.stderr

        wait_for(one_round, 30, 0, what="the worker's refusal")
        assert "127.0.0.2, a loopback address; only public addresses" in refusal(stream)
        assert upstream.requested == []
        assert stored_files(media_root, stream.public_id) == []
    finally:
        upstream.stop()


def test_an_absolute_segment_uri_to_another_host_is_refused(upstream, relay_stream, media_root):
    write_segments(upstream.directory, 2)
    # The same server under another name: another origin, and never fetched.
    secret = upstream.url("/internal/secret-1", host="localhost")
    write_playlist(upstream.directory, ["a0.ts", "a1.ts", secret])
    assert relay.poll_relay(stream_id=relay_stream.pk) == 0
    assert f"is not on http://127.0.0.1:{upstream.port}, the relay URL's origin" in refusal(
        relay_stream
    )
    assert upstream.requested == ["/up.m3u8"]
    assert stored_files(media_root, relay_stream.public_id) == []


def test_a_variant_on_another_host_is_refused(upstream, relay_stream):
    (upstream.directory / "up.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n"
        f"{upstream.url('/internal/v.m3u8', host='localhost')}\n"
    )
    assert relay.poll_relay(stream_id=relay_stream.pk) == 0
    assert "the relay URL's origin: refused" in refusal(relay_stream)
    assert upstream.requested == ["/up.m3u8"]


def test_a_redirect_of_the_upstream_playlist_is_not_followed(upstream, relay_stream):
    upstream.redirects["/up.m3u8"] = "/internal/secret-2"
    assert relay.poll_relay(stream_id=relay_stream.pk) == 0
    assert "redirects are not followed" in refusal(relay_stream)
    assert upstream.requested == ["/up.m3u8"]


def test_a_redirected_segment_is_not_followed_and_nothing_is_kept(
    upstream, relay_stream, media_root, client
):
    """The audit's scenario: a segment redirected to an internal path; anonymous viewers get
    nothing of it."""
    (upstream.directory / "internal").mkdir()
    (upstream.directory / "internal" / "secret-2").write_bytes(b"internal body")
    write_segments(upstream.directory, 1)
    upstream.redirects["/a1.ts"] = "/internal/secret-2"
    write_playlist(upstream.directory, ["a0.ts", "a1.ts"])
    # The show is on: unsigned URLs are public, so a 404 below means nothing was kept.
    Event.objects.filter(pk=relay_stream.event_id).update(status=EventStatus.LIVE)
    assert relay.poll_relay(stream_id=relay_stream.pk) == 0
    assert "redirects are not followed" in refusal(relay_stream)
    assert "/internal/secret-2" not in upstream.requested
    for path in ("r0/0.ts", "r0/1.ts", "r0/index.m3u8"):
        assert client.get(f"/live/{relay_stream.public_id}/{path}").status_code == 404
    assert not any(b"internal body" in p.read_bytes() for p in media_root.rglob("*") if p.is_file())


def test_an_oversized_segment_is_cut_off_and_nothing_is_kept(upstream, relay_stream, media_root):
    write_segments(upstream.directory, 1, size=MAX_OBJECT_BYTES + 188)
    write_playlist(upstream.directory, ["a0.ts"])
    assert relay.poll_relay(stream_id=relay_stream.pk) == 0
    assert f"more than {MAX_OBJECT_BYTES}" in refusal(relay_stream)
    assert stored_files(media_root, relay_stream.public_id) == []
    assert temp_files(media_root) == []


def test_the_relay_works_again_once_the_upstream_is_fixed(upstream, relay_stream):
    upstream.redirects["/up.m3u8"] = "/elsewhere.m3u8"
    relay.poll_relay(stream_id=relay_stream.pk)
    assert refusal(relay_stream).startswith("Upstream:")
    del upstream.redirects["/up.m3u8"]
    write_segments(upstream.directory, 3)
    write_playlist(upstream.directory, ["a0.ts", "a1.ts", "a2.ts"])
    assert relay.poll_relay(stream_id=relay_stream.pk) == 3
    assert refusal(relay_stream) == ""
