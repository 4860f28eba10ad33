"""Relay mode: pull an upstream HLS origin and republish it through our playlist writer.

A worker calls `poll_relay` every half target duration. It reads the upstream playlist (a
master: each variant becomes a rendition `r0`, `r1`, …), downloads the segments it has not
seen into the ingest area, then hands the playlist to the same code as push ingest
(`services.apply_relay_playlist`), which publishes in order, marks discontinuities when the
upstream's numbering goes back or it says so, and ends the stream on EXT-X-ENDLIST. Upstream
errors are recorded on the stream for staff; a silent upstream shows as a stall.
"""

from __future__ import annotations

import logging
import urllib.request
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from streaming import playlists, publishing, services
from streaming.models import Rendition, Stream, StreamMode, StreamState
from streaming.storage import ObjectTooLarge, get_storage

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0
# On the first poll of a live upstream, start this many segments from its live edge.
START_SEGMENTS = 3


class UpstreamError(Exception):
    pass


def _open(url: str) -> urllib.request.Request:
    if urlsplit(url).scheme not in ("http", "https"):
        raise UpstreamError(f"not an http(s) URL: {url[:100]}")
    return urllib.request.Request(url, headers={"User-Agent": "Pledgecast-relay/1"})  # noqa: S310


def _fetch_text(url: str) -> str:
    try:
        with urllib.request.urlopen(_open(url), timeout=TIMEOUT_S) as response:  # noqa: S310
            data = response.read(playlists.MAX_PLAYLIST_BYTES + 1)
    except OSError as exc:
        raise UpstreamError(f"upstream playlist {url[:100]}: {exc}") from exc
    if len(data) > playlists.MAX_PLAYLIST_BYTES:
        raise UpstreamError(f"upstream playlist {url[:100]} is too large")
    return bytes(data).decode("utf-8", errors="replace")


def _download(url: str, key: str) -> None:
    pending = get_storage().open_pending(key, max_bytes=settings.HLS_MAX_OBJECT_BYTES)
    try:
        with urllib.request.urlopen(_open(url), timeout=TIMEOUT_S) as response:  # noqa: S310
            while chunk := response.read(64 * 1024):
                pending.write(chunk)
    except (OSError, ObjectTooLarge) as exc:
        pending.abort()
        raise UpstreamError(f"upstream segment {url[:100]}: {exc or 'too large'}") from exc
    pending.commit()


def _segment_extension(uri: str) -> str:
    path = urlsplit(uri).path
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else "ts"
    return ext if ext in ("ts", "m4s") else "ts"


def poll_relay(*, stream_id: int) -> int:
    """Poll one relay stream once. Returns the number of segments published; records an
    upstream error on the stream (for staff) instead of raising."""
    stream = Stream.objects.get(pk=stream_id)
    if stream.mode != StreamMode.RELAY or stream.state == StreamState.ENDED:
        return 0
    try:
        text = _fetch_text(stream.relay_url)
        if playlists.is_master(text):
            variants = playlists.parse_master(text)
            targets = [
                (f"r{i}", urljoin(stream.relay_url, v.uri), v.attributes)
                for i, v in enumerate(variants)
            ]
        else:
            targets = [("r0", stream.relay_url, {})]
        published = 0
        for position, (name, url, attributes) in enumerate(targets):
            media_text = text if url == stream.relay_url else _fetch_text(url)
            published += _relay_rendition(stream, name, position, url, attributes, media_text)
    except (UpstreamError, playlists.PlaylistError) as exc:
        log.warning("relay upstream error", extra={"stream_id": stream.pk, "error": str(exc)})
        services.record_stream_error(stream_id=stream.pk, message=f"Upstream: {exc}")
        return 0
    return published


def _relay_rendition(
    stream: Stream, name: str, position: int, url: str, attributes: dict[str, str], text: str
) -> int:
    parsed = playlists.parse_media(text)
    if any(s.init_uri for s in parsed.segments):
        raise UpstreamError("fMP4 (EXT-X-MAP) upstreams are not supported yet; use MPEG-TS")
    rendition = Rendition.objects.filter(stream=stream, name=name).first()
    last = rendition.encoder_last_seq if rendition else -1
    segments = parsed.segments
    went_back = bool(segments) and segments[-1].sequence < last
    fresh = [s for s in segments if s.sequence > last or went_back]
    if last < 0 and not parsed.ended:
        fresh = fresh[-START_SEGMENTS:]
    staged: dict[str, str] = {}
    renamed = []
    for segment in segments:
        local = f"relay-{name}-{segment.sequence}.{_segment_extension(segment.uri)}"
        if segment in fresh:
            key = publishing.staged_key(stream, local)
            _download(urljoin(url, segment.uri), key)
            staged[local] = key
        renamed.append(replace(segment, uri=local))
    if last < 0:  # first poll: start at the live edge, not at the upstream's oldest segment
        wanted = {s.sequence for s in fresh}
        renamed = [s for s in renamed if s.sequence in wanted]
    parsed = replace(parsed, segments=renamed)
    return services.apply_relay_playlist(
        stream_id=stream.pk, rendition_name=name, position=position, variant=attributes,
        parsed=parsed, staged=staged,
    )  # fmt: skip


def poll_relays() -> int:
    """Poll every relay stream that is not over. Returns the segments published."""
    ids = Stream.objects.filter(mode=StreamMode.RELAY).exclude(state=StreamState.ENDED)
    return sum(poll_relay(stream_id=pk) for pk in ids.values_list("pk", flat=True))
