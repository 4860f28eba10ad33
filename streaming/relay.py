"""Relay mode: pull an upstream HLS origin and republish it through our playlist writer.

A worker calls `poll_relay` every half target duration. It reads the upstream playlist (a
master: each variant becomes a rendition `r0`, `r1`, …), downloads the segments it has not
seen into the ingest area, then hands the playlist to the same code as push ingest
(`services.apply_relay_playlist`), which publishes in order, marks discontinuities when the
upstream's numbering goes back or it says so, and ends the stream on EXT-X-ENDLIST. Upstream
errors are recorded on the stream for staff; a silent upstream shows as a stall.

Every fetch goes through `events.outbound`: only public addresses (or the operator's
OUTBOUND_ALLOWED_NETWORKS), checked at each fetch since DNS answers change, no redirects,
bounded size and time. The variant playlists and segments an upstream lists must be on the
relay URL's own origin (scheme, host and port): a playlist pointing elsewhere is refused whole
before anything is downloaded, and the refusal is the stream's error for staff.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from events import outbound
from streaming import playlists, publishing, services
from streaming.models import Rendition, Stream, StreamMode, StreamState
from streaming.storage import ObjectTooLarge, get_storage

log = logging.getLogger(__name__)

# Connecting and each read; a whole playlist or segment must arrive within TOTAL_TIMEOUT_S.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 5.0
TOTAL_TIMEOUT_S = 10.0
# On the first poll of a live upstream, start this many segments from its live edge.
START_SEGMENTS = 3
HEADERS = {"User-Agent": "Pledgecast-relay/1"}


class UpstreamError(Exception):
    pass


def _limits(max_bytes: int) -> outbound.Limits:
    return outbound.Limits(
        max_bytes=max_bytes, connect_timeout_s=CONNECT_TIMEOUT_S, read_timeout_s=READ_TIMEOUT_S,
        total_timeout_s=TOTAL_TIMEOUT_S,
    )  # fmt: skip


def _fetch_text(url: str, *, upstream: str) -> str:
    """A playlist of the upstream: every URL it leads to stays on the origin of `upstream`
    (the relay URL staff entered), and that origin's addresses must be public (or allowed)."""
    try:
        response = outbound.fetch(
            url, limits=_limits(playlists.MAX_PLAYLIST_BYTES), headers=HEADERS,
            same_origin_as=upstream,
        )  # fmt: skip
    except outbound.OutboundError as exc:
        raise UpstreamError(f"playlist: {exc}") from exc
    return response.body.decode("utf-8", errors="replace")


def _download(url: str, key: str, *, upstream: str) -> None:
    pending = get_storage().open_pending(key, max_bytes=settings.HLS_MAX_OBJECT_BYTES)
    try:
        outbound.fetch_into(
            url, pending.write, limits=_limits(settings.HLS_MAX_OBJECT_BYTES), headers=HEADERS,
            same_origin_as=upstream,
        )  # fmt: skip
    except (outbound.OutboundError, ObjectTooLarge) as exc:
        pending.abort()  # nothing of a refused or cut-off body is kept
        raise UpstreamError(f"segment: {exc or 'too large'}") from exc
    pending.commit()


def _check_same_origin(base: str, uris: list[str], *, upstream: str) -> None:
    """Raises UpstreamError if one of `uris` (relative to `base`) leaves the upstream's
    origin: an upstream playlist cannot make us fetch from another host."""
    try:
        allowed = outbound.origin_of(upstream)
        for uri in uris:
            if outbound.origin_of(urljoin(base, uri)) != allowed:
                shown = urljoin(base, uri).split("?", 1)[0][:100]
                raise UpstreamError(f"{shown} is not on {allowed}, the relay URL's origin: refused")
    except outbound.OutboundRefused as exc:
        raise UpstreamError(f"refused: {exc}") from exc


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
        upstream = stream.relay_url
        text = _fetch_text(upstream, upstream=upstream)
        if playlists.is_master(text):
            variants = playlists.parse_master(text)
            _check_same_origin(upstream, [v.uri for v in variants], upstream=upstream)
            targets = [
                (f"r{i}", urljoin(stream.relay_url, v.uri), v.attributes)
                for i, v in enumerate(variants)
            ]
        else:
            targets = [("r0", stream.relay_url, {})]
        published = 0
        for position, (name, url, attributes) in enumerate(targets):
            media_text = text if url == upstream else _fetch_text(url, upstream=upstream)
            published += _relay_rendition(
                stream, name, position, url, attributes, media_text, upstream=upstream
            )
    except (UpstreamError, playlists.PlaylistError) as exc:
        log.warning("relay upstream error", extra={"stream_id": stream.pk, "error": str(exc)})
        services.record_stream_error(stream_id=stream.pk, message=f"Upstream: {exc}")
        return 0
    return published


def _relay_rendition(
    stream: Stream,
    name: str,
    position: int,
    url: str,
    attributes: dict[str, str],
    text: str,
    *,
    upstream: str,
) -> int:
    parsed = playlists.parse_media(text)
    _check_same_origin(url, [s.uri for s in parsed.segments], upstream=upstream)
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
            _download(urljoin(url, segment.uri), key, upstream=upstream)
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
