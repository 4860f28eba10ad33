"""Reads for streams: ingest access, what the event page shows, what the origin serves."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from events.models import EventStatus
from streaming import signing
from streaming.models import Stream, StreamMode, StreamState
from streaming.services import hash_key


class IngestRefused(Exception):
    """Why an ingest request is refused: `status` (403, 404, 409) and a message for the
    encoder's operator. Raised before anything is written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
        # Streaming II: our RTMP transcoder's token, derived from the key's hash.
        accepted = signing.is_transcoder_token(
            key.strip(), public_id=public_id, key_hash=stream.key_hash
        )
    if not accepted or stream is None:
        raise IngestRefused(403, "Wrong or rotated stream key.")
    if stream.mode != StreamMode.PUSH:
        raise IngestRefused(409, "This stream relays an upstream origin; it takes no pushes.")
    if stream.state == StreamState.ENDED:
        raise IngestRefused(409, "This stream has ended.")
    if stream.event.status not in (EventStatus.SCHEDULED, EventStatus.LIVE):
        raise IngestRefused(409, f"The event is {stream.event.status}: schedule it first.")
    return stream


def effective_state(stream: Stream, *, now: datetime | None = None) -> str:
    """The stream's state as viewers should see it: a live stream whose segments stopped
    more than 2 target durations ago is stalled even before the sweep records it."""
    now = now or timezone.now()
    if (
        stream.state == StreamState.LIVE
        and stream.last_segment_at is not None
        and now - stream.last_segment_at > timedelta(seconds=2 * stream.target_duration)
    ):
        return StreamState.STALLED
    return str(stream.state)


@dataclass(frozen=True)
class StreamView:
    """What the event page needs: `state` (none, idle, live, stalled, ended), the master
    playlist URL while it is live or stalled, the replay URL once it ended with a recording."""

    state: str
    master_url: str | None
    replay_url: str | None
    target_duration: int | None


def master_path(public_id: str) -> str:
    return f"/live/{public_id}/master.m3u8"


def replay_path(public_id: str) -> str:
    return f"/live/{public_id}/replay.m3u8"


def event_stream_state(*, event_id: int) -> StreamView:
    stream = Stream.objects.filter(event_id=event_id).first()
    if stream is None:
        return StreamView(state="none", master_url=None, replay_url=None, target_duration=None)
    state = effective_state(stream)
    published = stream.live_at is not None

    # Streaming II: private or paid events' players get expiring signed URLs.
    def url(name: str) -> str:
        return signing.playback_path(
            public_id=stream.public_id, path=name, signed=stream.signed_playback
        )

    return StreamView(
        state=state,
        master_url=url("master.m3u8")
        if published and state in (StreamState.LIVE, StreamState.STALLED)
        else None,
        replay_url=url("replay.m3u8")
        if published and state == StreamState.ENDED and stream.record
        else None,
        target_duration=stream.target_duration,
    )


@dataclass(frozen=True)
class OriginInfo:
    """What the origin needs to answer for one stream."""

    target_duration: int
    state: str


def origin_info(*, public_id: str) -> OriginInfo | None:
    row = (
        Stream.objects.filter(public_id=public_id)
        .values_list("target_duration", "state", "live_at")
        .first()
    )
    if row is None or row[2] is None:
        return None  # unknown or not yet published
    return OriginInfo(target_duration=row[0], state=row[1])
