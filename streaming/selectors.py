"""Reads for streams: ingest access, what the event page shows, what the origin serves."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from events.models import EventStatus
from streaming import health, signing
from streaming.models import (
    CaptionMode,
    Latency,
    Stream,
    StreamMode,
    StreamState,
    Transcoder,
)
from streaming.refusals import EncoderRefused
from streaming.services import hash_key


class IngestRefused(EncoderRefused):
    """Why an ingest request is refused (403, 404, 409)."""


def access_stream_for_ingest(*, public_id: str, authorization: str) -> Stream:
    """The stream an encoder may write to with this `Authorization: Bearer <key>` header.
    Raises IngestRefused: 403 for a missing, wrong or rotated key (the same answer for an
    unknown stream, so ids cannot be probed), 409 when the stream cannot take video now."""
    scheme, _, key = authorization.partition(" ")
    stream = (
        Stream.objects.select_related("event").filter(public_id=public_id).first()
        if scheme.lower() == "bearer" and key
        else None
    )
    # Compare digests in constant time; hash something even for an unknown stream.
    expected = stream.key_hash if stream else "0" * 64
    accepted = hmac.compare_digest(hash_key(key.strip()), expected)
    if not accepted and stream is not None:
        # Our RTMP transcoder's token, derived from the key's hash.
        accepted = signing.is_transcoder_token(
            key.strip(), public_id=public_id, key_hash=stream.key_hash
        )
    if not accepted or stream is None:
        raise IngestRefused(403, "Wrong or rotated stream key.")
    if stream.mode != StreamMode.PUSH:
        raise IngestRefused(409, "This stream relays an upstream origin; it takes no pushes.")
    if stream.state == StreamState.ENDED:
        raise IngestRefused(
            409,
            "The show has ended, so this stream takes no more video. Staff can resume the "
            f"show from the live dashboard within {settings.SHOW_RESUME_MINUTES} minutes of "
            "its end.",
        )
    if stream.event.status not in TAKES_VIDEO:
        raise IngestRefused(409, f"The event is {stream.event.status}: schedule it first.")
    return stream


# The event statuses in which its stream takes video: the green room before the show, and
# the show. (An ended show's stream is ended too, until staff resume it.)
TAKES_VIDEO = (EventStatus.SCHEDULED, EventStatus.BACKSTAGE, EventStatus.LIVE)


def effective_state(stream: Stream, *, now: datetime | None = None) -> str:
    """The stream's state as viewers should see it: a receiving stream whose segments stopped
    more than 2 target durations ago is reconnecting even before the sweep records it."""
    now = now or timezone.now()
    if (
        stream.state == StreamState.LIVE
        and stream.last_segment_at is not None
        and now - stream.last_segment_at > timedelta(seconds=2 * stream.target_duration)
    ):
        return StreamState.RECONNECTING
    return str(stream.state)


@dataclass(frozen=True)
class StreamView:
    """What the event page needs: `state` (none, idle, live, reconnecting, stalled, ended),
    the master playlist URL while the show is on, the replay URL once it ended with a
    recording. Before the show (scheduled or backstage) the public sees no video: "idle"."""

    state: str
    master_url: str | None
    replay_url: str | None
    target_duration: int | None
    # Live captions on (or the replay has them): the player needs a build with subtitles.
    captions: bool = False
    # "low": the playlists are LL-HLS; the player plays at their PART-HOLD-BACK.
    latency: str = Latency.STANDARD


# What viewers play through: receiving, or waiting for the encoder to come back.
PLAYING = (StreamState.LIVE, StreamState.RECONNECTING, StreamState.STALLED)
# Event statuses whose video the public may see (the show, and its replay).
PUBLIC_VIDEO = (EventStatus.LIVE, EventStatus.ENDED)


def master_path(public_id: str) -> str:
    return f"/live/{public_id}/master.m3u8"


def replay_path(public_id: str) -> str:
    return f"/live/{public_id}/replay.m3u8"


def event_stream_state(*, event_id: int) -> StreamView:
    stream = Stream.objects.select_related("event").filter(event_id=event_id).first()
    if stream is None:
        return StreamView(state="none", master_url=None, replay_url=None, target_duration=None)
    state = effective_state(stream)
    if stream.event.status not in PUBLIC_VIDEO and state != StreamState.ENDED:
        # The green room is the staff's: the public page counts down.
        state = StreamState.IDLE
    published = stream.live_at is not None

    # Private or paid events' players get expiring signed URLs.
    def url(name: str) -> str:
        return signing.playback_path(
            public_id=stream.public_id, path=name, signed=stream.signed_playback
        )

    return StreamView(
        state=state,
        master_url=url("master.m3u8") if published and state in PLAYING else None,
        replay_url=url("replay.m3u8")
        if published and state == StreamState.ENDED and stream.record
        else None,
        target_duration=stream.target_duration,
        captions=stream.captions != CaptionMode.OFF or bool(stream.caption_anchor),
        latency=stream.latency,
    )


def preview_url(*, event_id: int) -> str | None:
    """The green room's player: the stream's master playlist under a signed, expiring prefix
    (staff only: the dashboard hands it out), whatever the show's status; None before video."""
    stream = Stream.objects.filter(event_id=event_id).first()
    if stream is None or stream.live_at is None or stream.state == StreamState.ENDED:
        return None
    return signing.playback_path(public_id=stream.public_id, path="master.m3u8", signed=True)


@dataclass(frozen=True)
class OriginInfo:
    """What the origin needs to answer for one stream."""

    target_duration: int
    state: str
    low_latency: bool = False


def origin_info(*, public_id: str) -> OriginInfo | None:
    row = (
        Stream.objects.filter(public_id=public_id)
        .values_list("target_duration", "state", "live_at", "latency", "mode")
        .first()
    )
    if row is None or row[2] is None:
        return None  # unknown or not yet published
    low = row[3] == Latency.LOW and row[4] != StreamMode.RELAY
    return OriginInfo(target_duration=row[0], state=row[1], low_latency=low)


def needs_signed_url(*, public_id: str) -> bool:
    """Whether the stream's files are served only under a valid signed prefix: a stream with
    signed playback, and any stream before its show goes live (the green room's preview)."""
    return (
        Stream.objects.filter(public_id=public_id)
        .filter(Q(signed_playback=True) | ~Q(event__status__in=PUBLIC_VIDEO))
        .exists()
    )


# --- Stream health, for the staff's live dashboard ------------------------------------------


@dataclass(frozen=True)
class RenditionHealth:
    name: str
    bandwidth: int | None  # bits per second: the encoder's BANDWIDTH, else the peak we measured
    resolution: str  # "1280x720", or "" when the encoder did not say
    segments: int  # segments published so far
    ended: bool


@dataclass(frozen=True)
class StreamHealth:
    """What staff watch about the video on the night. Never carries the stream key (nor its
    hash): the dashboard is shown on screens in a control room."""

    state: str  # effective_state(): idle, live, stalled, ended
    state_label: str
    ingest: str  # "RTMP (OBS)", "HLS push" or "relay"
    seconds_since_segment: float | None  # None before the first segment
    target_duration: int
    renditions: list[RenditionHealth]
    transcoder_running: bool | None  # None when there is no RTMP publish (no transcoder)
    transcoder_speed: float | None
    transcoder_behind: bool  # ffmpeg cannot keep real time
    last_error: str
    last_error_at: datetime | None
    # The green room's figures from ffprobe (streaming/health.py): empty when none are recent.
    figures: list[health.HealthRow] = field(default_factory=list)
    warnings: tuple[str, ...] = ()


def stream_health(*, event_id: int, now: datetime | None = None) -> StreamHealth | None:
    """The event's stream health, or None when the event has no stream. Two queries: the
    stream with its transcoder row, and its renditions."""
    stream = Stream.objects.select_related("transcoder").filter(event_id=event_id).first()
    if stream is None:
        return None
    now = now or timezone.now()
    state = effective_state(stream, now=now)
    try:
        transcoder = stream.transcoder
    except Transcoder.DoesNotExist:
        transcoder = None
    if stream.mode == StreamMode.RELAY:
        ingest = "relay"
    elif transcoder is not None:
        ingest = "RTMP (OBS)"
    else:
        ingest = "HLS push"
    renditions = [
        RenditionHealth(
            name=r.name,
            bandwidth=_bandwidth(r.variant.get("BANDWIDTH"), r.peak_bits_per_second),
            resolution=str(r.variant.get("RESOLUTION", "")),
            segments=r.next_seq,
            ended=r.ended,
        )
        for r in stream.renditions.all()
    ]
    last_error, last_error_at = stream.last_error, stream.last_error_at
    if (
        transcoder is not None
        and transcoder.last_error_at is not None
        and (last_error_at is None or transcoder.last_error_at > last_error_at)
    ):
        last_error, last_error_at = transcoder.last_error, transcoder.last_error_at
    measured = health.current_health(stream, now=now)
    return StreamHealth(
        state=state,
        state_label=str(StreamState(state).label),
        ingest=ingest,
        seconds_since_segment=(now - stream.last_segment_at).total_seconds()
        if stream.last_segment_at is not None
        else None,
        target_duration=stream.target_duration,
        renditions=renditions,
        transcoder_running=None
        if transcoder is None
        else bool(transcoder.publishing and transcoder.pid is not None),
        transcoder_speed=transcoder.speed if transcoder is not None else None,
        transcoder_behind=bool(
            transcoder is not None and transcoder.publishing and transcoder.behind_since
        ),
        last_error=last_error,
        last_error_at=last_error_at,
        figures=health.rows(measured) if measured is not None else [],
        warnings=measured.warnings if measured is not None else (),
    )


def _bandwidth(declared: object, measured: int) -> int | None:
    if isinstance(declared, str) and declared.isdigit():
        return int(declared)
    if isinstance(declared, int):
        return declared
    return measured or None
