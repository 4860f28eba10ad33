"""Writes for streams: keys, what encoders and relays deliver, state and health.

Every change to a stream locks its row first (`select_for_update`), then touches its
renditions: one lock order everywhere, so two web processes receiving two renditions of the
same stream queue instead of deadlocking. State changes are published to the live room on
commit (`livebus.publish_change(kind="stream")`), and drive the event's lifecycle through
`events.services`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from events import livebus, outbound
from events import services as event_services
from events.models import Event, EventStatus
from streaming import keycache, playlists, publishing
from streaming.captions import rendition as captions
from streaming.models import Rendition, Segment, Stream, StreamMode, StreamState
from streaming.storage import get_storage

log = logging.getLogger(__name__)

KEY_PREFIX = "sk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_key(key)


def _publish_on_commit(stream: Stream) -> None:
    transaction.on_commit(partial(livebus.publish_change, event_id=stream.event_id, kind="stream"))


def check_relay_url(url: str) -> None:
    """Raises ValidationError, with a message for staff, unless the relay would fetch `url`
    now: http(s), no credentials, a host resolving only to public addresses (or to the
    operator's OUTBOUND_ALLOWED_NETWORKS). The relay checks again at every fetch."""
    if not url:
        raise ValidationError("Relay mode needs the upstream playlist URL.", code="relay_url")
    try:
        outbound.check_url(url)
    except outbound.OutboundError as exc:
        raise ValidationError(f"This URL cannot be relayed: {exc}.", code="relay_url") from None


def create_stream(
    *,
    event_id: int,
    mode: str = StreamMode.PUSH,
    relay_url: str = "",
    dvr: bool = False,
    record: bool = True,
) -> tuple[Stream, str]:
    """A stream for the event and its key. The key is returned once and stored only hashed.
    Raises ValidationError for a relay URL the relay would refuse (check_relay_url: checked
    before the transaction, it resolves DNS), IntegrityError if the event already has a
    stream."""
    if mode == StreamMode.RELAY:
        check_relay_url(relay_url)
    return _create_stream(event_id=event_id, mode=mode, relay_url=relay_url, dvr=dvr, record=record)


@transaction.atomic
def _create_stream(
    *, event_id: int, mode: str, relay_url: str, dvr: bool, record: bool
) -> tuple[Stream, str]:
    key, digest = _new_key()
    stream = Stream.objects.create(
        event_id=event_id, key_hash=digest, key_rotated_at=timezone.now(), mode=mode,
        relay_url=relay_url, dvr=dvr, record=record,
    )  # fmt: skip
    log.info("stream created", extra={"stream_id": stream.pk, "event_id": event_id})
    return stream, key


@transaction.atomic
def rotate_stream_key(*, stream_id: int) -> str:
    """A new key for the stream; the old one stops working at once (its next PUT gets 403)."""
    stream = Stream.objects.select_for_update().get(pk=stream_id)
    key, stream.key_hash = _new_key()
    stream.key_rotated_at = timezone.now()
    stream.save(update_fields=["key_hash", "key_rotated_at"])
    transaction.on_commit(partial(keycache.forget, public_id=stream.public_id))
    log.info("stream key rotated", extra={"stream_id": stream.pk})
    return key


@transaction.atomic
def set_delivery_options(
    *,
    stream_id: int,
    ladder: str,
    signed_playback: bool,
    record_practice: bool = False,
    captions_mode: str | None = None,
    latency: str | None = None,
) -> None:
    """Staff's delivery choices for a stream: the ladder (taken by the next transcoder
    start), signed playback (at once: unsigned URLs get 403 from the next request), whether
    the replay keeps the practice before "Go live" (read when the show ends), live captions
    (from the next segment; the master lists or drops the subtitle track at once), and the
    latency (standard or low: from the next segment; the ladder's next start cuts parts)."""
    stream = Stream.objects.select_for_update().get(pk=stream_id)
    stream.ladder, stream.signed_playback, stream.record_practice = (
        ladder, signed_playback, record_practice,
    )  # fmt: skip
    fields = ["ladder", "signed_playback", "record_practice"]
    if captions_mode is not None and captions_mode != stream.captions:
        stream.captions = captions_mode
        fields.append("captions")
    if latency is not None and latency != stream.latency:
        stream.latency = latency
        fields.append("latency")
    stream.save(update_fields=fields)
    if "captions" in fields and stream.state != StreamState.ENDED:
        publishing.write_master(stream=stream)
    log.info("stream delivery options", extra={"stream_id": stream_id, "ladder": ladder,
                                                "signed_playback": signed_playback})  # fmt: skip


def _mark_live(stream: Stream, now: datetime) -> None:
    stream.last_segment_at = now
    if stream.state in (StreamState.IDLE, StreamState.RECONNECTING, StreamState.STALLED):
        was = stream.state
        stream.state = StreamState.LIVE
        stream.live_at = stream.live_at or now
        stream.session_started_at = now
        log.info("stream receiving", extra={"stream_id": stream.pk, "from_state": was})
        _publish_on_commit(stream)
        # Video arriving for a scheduled event opens the green room; only staff go live.
        if Event.objects.filter(pk=stream.event_id, status=EventStatus.SCHEDULED).exists():
            event_services.enter_backstage(event_id=stream.event_id)


def _mark_reconnecting(stream: Stream, *, reason: str) -> None:
    """The encoder stopped sending (or said ENDLIST): players wait, the show goes on."""
    if stream.state == StreamState.LIVE:
        stream.state = StreamState.RECONNECTING
        log.info("stream reconnecting", extra={"stream_id": stream.pk, "reason": reason})
        _publish_on_commit(stream)


@dataclass(frozen=True)
class Delivery:
    """What a playlist PUT changed: segments published, and whether the stream ended."""

    published: int
    ended: bool


@transaction.atomic
def receive_playlist(*, stream_id: int, name: str, text: str) -> Delivery:
    """Apply an encoder's playlist. A master records its variants; a media playlist publishes
    the segments it lists that have arrived (in order, each once), marks discontinuities when
    the encoder restarted, and ends the rendition on EXT-X-ENDLIST. Raises PlaylistError on a
    malformed playlist (nothing changes)."""
    stream = Stream.objects.select_for_update().get(pk=stream_id)
    if stream.state == StreamState.ENDED:
        return Delivery(published=0, ended=True)
    stem = name.rsplit(".", 1)[0]
    if stem == captions.FOLDER:
        raise playlists.PlaylistError(f"{name!r} is a name of ours (the caption rendition)")
    now = timezone.now()
    if playlists.is_master(text):
        _apply_master(stream, playlists.parse_master(text))
        return Delivery(published=0, ended=False)
    parsed = playlists.parse_media(text)
    for segment in parsed.segments:
        if not playlists.is_valid_name(segment.uri) or playlists.extension(segment.uri) == "m3u8":
            raise playlists.PlaylistError(f"bad segment URI {segment.uri[:80]!r}")
    rendition, _ = Rendition.objects.get_or_create(stream=stream, name=stem)
    published = apply_segments(
        stream=stream,
        rendition=rendition,
        parsed=parsed,
        fetch=lambda uri: publishing.staged_key(stream, uri),
        now=now,
        upload_is_capture=True,
    )
    return Delivery(published=published, ended=stream.state == StreamState.ENDED)


def _apply_master(stream: Stream, variants: list[playlists.EncoderVariant]) -> None:
    for position, variant in enumerate(variants):
        stem = variant.uri.rsplit(".", 1)[0]
        if stem == captions.FOLDER:
            raise playlists.PlaylistError(f"{variant.uri!r} is a name of ours (the captions)")
        if not playlists.is_valid_name(variant.uri) or not variant.uri.endswith(".m3u8"):
            raise playlists.PlaylistError(f"bad variant URI {variant.uri[:80]!r}")
        rendition, created = Rendition.objects.get_or_create(
            stream=stream, name=stem, defaults={"variant": variant.attributes, "position": position}
        )
        if not created:
            # What we probed of its segments stays (publishing.describe).
            probed = rendition.variant.get(publishing.PROBED)
            rendition.variant = {
                **variant.attributes,
                **({publishing.PROBED: probed} if probed else {}),
            }
            rendition.position = position
            rendition.save(update_fields=["variant", "position"])
    publishing.write_master(stream=stream)


def apply_segments(
    *,
    stream: Stream,
    rendition: Rendition,
    parsed: playlists.EncoderPlaylist,
    fetch: Callable[[str], str | None],
    now: datetime,
    upload_is_capture: bool = False,
) -> int:
    """Publish the new segments of `parsed` into `rendition` (the stream's row is locked by
    the caller). `fetch(uri)` gives the storage key holding the segment's bytes (or None if
    not there yet). Used by push ingest (whose uploads began as the encoder captured them:
    `upload_is_capture`) and by the relay. Returns how many were published."""
    segments = parsed.segments
    if segments and 0 <= segments[-1].sequence < rendition.encoder_last_seq:
        # The encoder's numbering went back: a new encoder session, whose timestamps restart
        # (RFC 8216 §6.3.3: a discontinuity).
        rendition.encoder_last_seq = -1
        rendition.pending_discontinuity = True
        log.info("encoder restarted", extra={"stream_id": stream.pk, "rendition": rendition.name})
    if segments:
        rendition.encoder_first_seq = segments[0].sequence
    fresh = [s for s in segments if s.sequence > rendition.encoder_last_seq]
    if rendition.ended and fresh and not parsed.ended:
        # The encoder said ENDLIST, then came back: a new session after a gap.
        rendition.ended = False
        rendition.pending_discontinuity = True
    if rendition.open_segment and not publishing.is_low_latency(stream):
        # Back to standard latency: the segment being built of parts is complete as it is.
        publishing.close_open_segment(stream=stream, rendition=rendition, now=now)
    published = 0
    published_parts: list[bool] = []  # low latency: one entry per part published
    master_changed = rendition.next_seq == 0
    anchored = stream.caption_anchor  # a new caption anchor adds the subtitles to the master
    for index, segment in enumerate(fresh):
        key = fetch(segment.uri)
        if key is None or get_storage().size(key) is None:
            if index == len(fresh) - 1:
                break  # the last one may still be on its way: wait for the next playlist
            rendition.pending_discontinuity = True  # lost for good: a gap in the timeline
            rendition.encoder_last_seq = segment.sequence
            continue
        if segment.discontinuity:
            rendition.pending_discontinuity = True
        if segment.init_uri:
            init_key = fetch(segment.init_uri)
            if init_key is not None:
                publishing.publish_init(stream=stream, rendition=rendition, source_key=init_key)
        append = publishing.append_segment
        if publishing.is_low_latency(stream):
            append = _append_part_of(published_parts)
        added = append(
            stream=stream,
            rendition=rendition,
            source_key=key,
            duration=segment.duration,
            ext=playlists.extension(segment.uri),
            now=now,
            captured_at=segment.program_date_time,
            upload_is_capture=upload_is_capture,
        )
        rendition.encoder_last_seq = segment.sequence
        if added is not None and (added.seq == 0 or added.discontinuity):
            # The first segment of an encoder session tells what its segments carry.
            master_changed |= publishing.describe(stream=stream, rendition=rendition, segment=added)
        published += added is not None
    published = max(published, len(published_parts))
    if parsed.ended:
        rendition.ended = True
    if published:
        _mark_live(stream, now)
    if published or parsed.ended:
        publishing.write_media_playlist(stream=stream, rendition=rendition, now=now)
    rendition.save()
    if parsed.ended and not stream.renditions.filter(ended=False).exists():
        # An encoder's ENDLIST ends its session, never the show: staff end the show.
        _mark_reconnecting(stream, reason="encoder ENDLIST")
    stream.save()
    master_changed |= stream.caption_anchor != anchored
    if master_changed and published:
        publishing.write_master(stream=stream)
    return published


def _append_part_of(published_parts: list[bool]) -> Callable[..., Segment | None]:
    """publishing.append_part in the shape of append_segment (the segment it closed, if any),
    noting each part published in `published_parts`."""

    def append(**kwargs: Any) -> Segment | None:
        part_published, closed = publishing.append_part(**kwargs)
        if part_published:
            published_parts.append(True)
        return closed

    return append


@transaction.atomic
def apply_relay_playlist(
    *,
    stream_id: int,
    rendition_name: str,
    position: int,
    variant: dict[str, str],
    parsed: playlists.EncoderPlaylist,
    staged: dict[str, str],
) -> int:
    """Publish what the relay downloaded (`staged`: segment name → storage key) from an
    upstream playlist whose URIs were renamed to those names. Returns segments published."""
    stream = Stream.objects.select_for_update().get(pk=stream_id)
    if stream.state == StreamState.ENDED:
        return 0
    rendition, _ = Rendition.objects.get_or_create(
        stream=stream, name=rendition_name, defaults={"variant": variant, "position": position}
    )
    if stream.last_error.startswith("Upstream:"):
        stream.last_error = ""  # the upstream answers again
    return apply_segments(
        stream=stream, rendition=rendition, parsed=parsed, fetch=staged.get, now=timezone.now()
    )


@transaction.atomic
def end_stream(*, stream_id: int, reason: str = "staff") -> Stream:
    """End the stream (the show ended: staff, its automatic end, or its event ending): every
    live playlist gets EXT-X-ENDLIST, the replay is written, a live event ends. Idempotent."""
    stream = Stream.objects.select_for_update().get(pk=stream_id)
    if stream.state != StreamState.ENDED:
        _end_locked(stream, now=timezone.now(), reason=reason)
    return stream


def _end_locked(stream: Stream, *, now: datetime, reason: str) -> None:
    stream.state = StreamState.ENDED
    stream.ended_at = now
    stream.save()
    for rendition in stream.renditions.all():
        # Low latency: the segment being built is the last one.
        publishing.close_open_segment(stream=stream, rendition=rendition, now=now)
        if rendition.next_seq:
            publishing.write_media_playlist(stream=stream, rendition=rendition, now=now)
            rendition.save()
    went_live_at = (
        Event.objects.filter(pk=stream.event_id).values_list("went_live_at", flat=True).first()
    )
    # Practice before "Go live" stays out of the replay unless staff keep it.
    publishing.write_replay(stream=stream, since=None if stream.record_practice else went_live_at)
    get_storage().delete_prefix(f"ingest/{stream.public_id}")
    transaction.on_commit(partial(keycache.forget, public_id=stream.public_id))
    log.info("stream ended", extra={"stream_id": stream.pk, "reason": reason})
    _publish_on_commit(stream)
    if Event.objects.filter(pk=stream.event_id, status=EventStatus.LIVE).exists():
        event_services.end_event(event_id=stream.event_id)


def discard_object(*, public_id: str, name: str) -> None:
    """An encoder's DELETE: drop what it sent and we have not published. What we published
    stays until our own retention removes it."""
    get_storage().delete(publishing.staged_key_for(public_id, name))


@transaction.atomic
def record_stream_error(*, stream_id: int, message: str) -> None:
    """Note a problem for staff (shown in the admin), e.g. an upstream error in relay mode."""
    Stream.objects.filter(pk=stream_id).update(
        last_error=message[:500], last_error_at=timezone.now()
    )


@transaction.atomic
def reopen_stream(*, stream_id: int) -> Stream:
    """The show resumed: an ended stream takes video again. Its playlists lose ENDLIST and the
    next segments follow a discontinuity; players of the replay switch back to live."""
    stream = Stream.objects.select_for_update().get(pk=stream_id)
    if stream.state != StreamState.ENDED:
        return stream
    stream.state = StreamState.RECONNECTING
    stream.ended_at = None
    stream.save(update_fields=["state", "ended_at"])
    now = timezone.now()
    for rendition in stream.renditions.all():
        rendition.ended = False
        rendition.pending_discontinuity = True
        if rendition.next_seq:
            publishing.write_media_playlist(stream=stream, rendition=rendition, now=now)
        rendition.save()
    transaction.on_commit(partial(keycache.forget, public_id=stream.public_id))
    log.info("stream reopened", extra={"stream_id": stream.pk})
    _publish_on_commit(stream)
    return stream


def mark_stalled_streams(*, now: datetime | None = None) -> list[int]:
    """Streams receiving nothing for 2 target durations become reconnecting; reconnecting
    for STREAM_RECONNECT_SECONDS more, stalled. Returns the ids of those that changed."""
    now = now or timezone.now()
    changed = []
    reconnect = timedelta(seconds=settings.STREAM_RECONNECT_SECONDS)

    def overdue(stream: Stream) -> bool:
        quiet = now - (stream.last_segment_at or now)
        if stream.state == StreamState.LIVE:
            return quiet > timedelta(seconds=2 * stream.target_duration)
        return quiet > reconnect

    # Read without locks; lock only the streams due a change: the sweep runs every half
    # target duration and must not queue behind (or hold up) the segment PUTs of the others.
    waiting = Stream.objects.filter(state__in=[StreamState.LIVE, StreamState.RECONNECTING]).only(
        "pk", "state", "last_segment_at", "target_duration"
    )
    for stream in filter(overdue, waiting):
        with transaction.atomic():
            locked = Stream.objects.select_for_update().get(pk=stream.pk)
            if locked.state not in (StreamState.LIVE, StreamState.RECONNECTING) or not overdue(
                locked
            ):
                continue  # a segment (or staff) came first
            if locked.state == StreamState.LIVE:
                _mark_reconnecting(locked, reason="no segments")
            else:
                locked.state = StreamState.STALLED
                log.warning("stream stalled", extra={"stream_id": locked.pk})
                _publish_on_commit(locked)
            locked.save(update_fields=["state"])
            changed.append(locked.pk)
    return changed


def sweep_streams(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic health sweep: stalls, streams whose event is over, expired segments."""
    now = now or timezone.now()
    stalled = mark_stalled_streams(now=now)
    over = Stream.objects.exclude(state=StreamState.ENDED).filter(
        event__status__in=[EventStatus.ENDED, EventStatus.CANCELLED]
    )
    ended = 0
    for stream_id in over.values_list("pk", flat=True):
        end_stream(stream_id=stream_id, reason="event over")
        ended += 1
    with transaction.atomic():
        deleted = publishing.delete_expired_segments(now=now)
    return {"stalled": len(stalled), "ended": ended, "deleted": deleted}
