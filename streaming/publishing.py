"""The playlist writer: append segments to a rendition and rewrite what viewers read.

Callers hold the stream's row lock (`select_for_update`) for the whole change, so that one
rendition's playlist is written by one process at a time, in sequence order: a playlist
version on storage is never replaced by an older one. Files are written before the
transaction commits; a rollback after a write leaves at worst an unreferenced segment file.

Storage keys: `live/<public_id>/master.m3u8`, `live/<public_id>/<rendition>/index.m3u8`,
`live/<public_id>/<rendition>/<seq>.<ext>`, and after the end `replay.m3u8` beside each.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings

from streaming import blocking, codecs, playlists
from streaming.captions import rendition as captions
from streaming.models import Latency, Rendition, Segment, Stream, StreamMode
from streaming.storage import get_storage

log = logging.getLogger(__name__)


def live_key(stream: Stream, *parts: str) -> str:
    return "/".join(("live", stream.public_id, *parts))


def staged_key(stream: Stream, name: str) -> str:
    return staged_key_for(stream.public_id, name)


def staged_key_for(public_id: str, name: str) -> str:
    return f"ingest/{public_id}/{name}"


# An encoder's date-time further from our clock than this is a wrong clock, not a latency.
CLOCK_SKEW = timedelta(seconds=30)


def rounded(duration: float) -> int:
    # RFC 8216 §4.3.3.1: the EXTINF duration rounded to the nearest integer.
    return int(duration + 0.5)


def append_segment(
    *,
    stream: Stream,
    rendition: Rendition,
    source_key: str,
    duration: float,
    ext: str,
    now: datetime,
    captured_at: datetime | None = None,
    upload_is_capture: bool = False,
) -> Segment | None:
    """Move the object at `source_key` into the rendition as its next segment and record it.
    Returns None (and discards the object) if it is gone or longer than the target duration.
    The caller saves `rendition` and writes its playlist afterwards.

    Its program date-time: `captured_at` (what the encoder said) when it is within
    CLOCK_SKEW of our clock; else the previous segment's plus its duration; else, at the
    start of an encoder session, when the segment's upload began if `upload_is_capture` (an
    encoder PUTs a segment as it encodes it, a relay downloads it once complete); else now
    less its duration."""
    storage = get_storage()
    if rounded(duration) > stream.target_duration:
        storage.delete(source_key)
        rendition.pending_discontinuity = True
        stream.last_error = (
            f"Refused a {duration:.2f} s segment on {rendition.name}: the target duration is "
            f"{stream.target_duration} s. Set the encoder's keyframe interval and segment "
            f"length to at most {stream.target_duration} s."
        )
        stream.last_error_at = now
        log.warning(
            "segment refused: too long",
            extra={"stream_id": stream.pk, "rendition": rendition.name, "duration": duration},
        )
        return None
    seq = rendition.next_seq
    size = storage.size(source_key)
    target = live_key(stream, rendition.name, f"{seq}.{ext}")
    if size is None or not storage.move(source_key, target):
        return None
    discontinuity = rendition.pending_discontinuity and seq > 0
    pdt = _program_date_time(
        rendition=rendition, key=target, duration=duration, now=now, captured_at=captured_at,
        upload_is_capture=upload_is_capture, discontinuity=discontinuity,
    )  # fmt: skip
    segment = Segment.objects.create(
        rendition=rendition,
        seq=seq,
        duration=duration,
        program_date_time=pdt,
        discontinuity=discontinuity,
        init_name=rendition.current_init,
        extension=ext,
        size=size,
        published_at=now,
    )
    rendition.next_seq = seq + 1
    rendition.next_pdt = pdt + timedelta(seconds=duration)
    rendition.pending_discontinuity = False
    rendition.peak_bits_per_second = max(
        rendition.peak_bits_per_second, int(size * 8 / max(duration, 0.1))
    )
    # Its caption segment, with the cues that arrived before it (captions on).
    captions.on_segment(stream=stream, rendition=rendition, segment=segment)
    return segment


def _program_date_time(
    *,
    rendition: Rendition,
    key: str,
    duration: float,
    now: datetime,
    captured_at: datetime | None,
    upload_is_capture: bool,
    discontinuity: bool,
) -> datetime:
    if captured_at is not None and abs(captured_at - now) <= CLOCK_SKEW:
        return captured_at
    if rendition.next_pdt is not None and not discontinuity:
        return rendition.next_pdt
    started = get_storage().started_at(key) if upload_is_capture else None
    return min(started, now) if started is not None else now - timedelta(seconds=duration)


def publish_init(*, stream: Stream, rendition: Rendition, source_key: str) -> bool:
    """Publish an fMP4 initialization section under a new name (names are never reused:
    files we published are immutable). False if there is no such object."""
    name = f"init{rendition.init_count}.mp4"
    if not get_storage().move(source_key, live_key(stream, rendition.name, name)):
        return False
    rendition.init_count += 1
    rendition.current_init = name
    return True


def _as_published(segment: Segment) -> playlists.PublishedSegment:
    return playlists.PublishedSegment(
        seq=segment.seq,
        duration=segment.duration,
        program_date_time=segment.program_date_time,
        discontinuity=segment.discontinuity,
        init_name=segment.init_name,
        extension=segment.extension,
        parts=tuple(segment.parts),
    )


def write_media_playlist(*, stream: Stream, rendition: Rendition, now: datetime) -> None:
    """Slide the window (the newest segments adding up to at least the window, which is at
    least 3 target durations) and write the live playlist. Segments that leave the window
    get `removed_at`; the retention sweep deletes their files later (RFC 8216 §6.2.2).
    Updates `rendition.media_sequence` and `discontinuity_sequence`: the caller saves it."""
    in_window = list(
        Segment.objects.filter(rendition=rendition, removed_at__isnull=True).order_by("-seq")
    )
    keep: list[Segment] = []
    total = 0.0
    for segment in in_window:
        keep.append(segment)
        total += segment.duration
        if total >= stream.window_seconds:
            break
    keep.reverse()
    if not keep:
        return
    first = keep[0].seq
    leaving = [s for s in in_window if s.seq < first]
    if leaving:
        Segment.objects.filter(pk__in=[s.pk for s in leaving]).update(removed_at=now)
        # The discontinuity sequence counts the discontinuities no longer in the playlist.
        rendition.discontinuity_sequence += sum(1 for s in leaving if s.discontinuity)
    rendition.media_sequence = first
    published = [_as_published(s) for s in keep]
    # Only the show's end ends a live playlist: an encoder's ENDLIST or drop is a pause
    # players wait through (its next segment follows a discontinuity).
    ended = stream.state == "ended"
    text = playlists.render_media(
        target_duration=stream.target_duration,
        media_sequence=first,
        discontinuity_sequence=rendition.discontinuity_sequence,
        segments=published,
        ended=ended,
        low_latency=_low_latency_view(stream, rendition) if not ended else None,
    )
    get_storage().put(live_key(stream, rendition.name, "index.m3u8"), text.encode())
    if is_low_latency(stream):
        blocking.announce(
            stream=stream, rendition=rendition, complete=keep[-1].seq,
            complete_parts=len(keep[-1].parts),
        )  # fmt: skip
    captions.write_playlist(
        stream=stream, rendition=rendition, segments=published, media_sequence=first,
        discontinuity_sequence=rendition.discontinuity_sequence, ended=ended,
    )  # fmt: skip


# The key of `Rendition.variant` under which we keep what we probed ourselves (describe):
# it outlives the encoder's master being sent again.
PROBED = "probed"


def describe(*, stream: Stream, rendition: Rendition, segment: Segment) -> bool:
    """Probe `segment` (the first of an encoder session) for CODECS and RESOLUTION
    (streaming.codecs) and keep them in `rendition.variant`; True if they changed, and the
    master must be written again. Runs ffprobe (tens of milliseconds, at most 5 s) under the
    caller's row lock, once per encoder session and rendition."""
    path = get_storage().local_path(live_key(stream, rendition.name, segment.file_name))
    probed = codecs.variant_of(path) if path is not None else {}
    if not probed or probed == rendition.variant.get(PROBED):
        return False
    rendition.variant = {**rendition.variant, PROBED: probed}
    return True


def _variant_attributes(rendition: Rendition) -> dict[str, str]:
    attributes = {k: v for k, v in rendition.variant.items() if k in playlists.VARIANT_ORDER}
    if not attributes.get("BANDWIDTH"):
        # No master from the encoder: the peak rate we measured (RFC 8216 §4.3.4.2).
        attributes = {"BANDWIDTH": str(max(rendition.peak_bits_per_second, 1))}
    # What the segments carry wins over what the encoder said (or left out: ffmpeg writes no
    # CODECS for a copied stream, and hls.js then never switches up to it).
    probed = rendition.variant.get(PROBED)
    if isinstance(probed, dict):
        attributes.update({k: str(v) for k, v in probed.items() if k in ("CODECS", "RESOLUTION")})
    # In a fixed order: the database does not keep the encoder's.
    return {k: attributes[k] for k in playlists.VARIANT_ORDER if k in attributes}


def write_master(*, stream: Stream) -> None:
    """The master playlist: the renditions of the current encoder session, i.e. those that have
    published a segment within a live window of the newest one. A rendition the encoder no
    longer sends (it came back with another ladder) leaves the master, or players would switch
    to a playlist that never grows."""
    renditions = [r for r in stream.renditions.all() if r.next_seq > 0]
    if not renditions:
        return
    times = [r.next_pdt for r in renditions if r.next_pdt is not None]
    if times:
        since = max(times) - timedelta(seconds=settings.HLS_WINDOW_SECONDS)
        renditions = [r for r in renditions if r.next_pdt is None or r.next_pdt >= since]
    text = playlists.render_master(
        ((f"{r.name}/index.m3u8", _variant_attributes(r)) for r in renditions),
        subtitles=_subtitles(stream, "index.m3u8"),
    )
    get_storage().put(live_key(stream, "master.m3u8"), text.encode())


def _subtitles(stream: Stream, name: str) -> playlists.Subtitles | None:
    if not captions.listed(stream):
        return None
    return playlists.Subtitles(
        uri=f"{captions.FOLDER}/{name}", group_id=captions.GROUP_ID,
        name=settings.CAPTIONS_NAME, language=settings.CAPTIONS_LANGUAGE,
    )  # fmt: skip


def write_replay(*, stream: Stream, since: datetime | None = None) -> None:
    """The replay: a VOD playlist of every recorded segment per rendition (those published
    `since` the show went live, when given: the practice stays out), and their master.
    Streams that do not record have none."""
    renditions = [r for r in stream.renditions.all() if r.next_seq > 0]
    if not stream.record or not renditions:
        return
    if (
        since is not None
        and not Segment.objects.filter(
            rendition__stream=stream, deleted=False, published_at__gte=since
        ).exists()
    ):
        since = None  # nothing after going live: the practice is better than a broken replay
    storage = get_storage()
    recorded = []
    for rendition in renditions:
        kept = rendition.segments.filter(deleted=False)
        if since is not None:
            kept = kept.filter(published_at__gte=since)
        segments = [_as_published(s) for s in kept]
        if not segments:
            continue
        recorded.append(rendition)
        if segments[0].discontinuity:
            # A VOD playlist starting at a discontinuity would need a discontinuity sequence.
            segments[0] = playlists.PublishedSegment(
                **{**segments[0].__dict__, "discontinuity": False}
            )
        text = playlists.render_media(
            target_duration=stream.target_duration,
            media_sequence=segments[0].seq,
            discontinuity_sequence=0,
            segments=segments,
            ended=True,
            vod=True,
        )
        storage.put(live_key(stream, rendition.name, "replay.m3u8"), text.encode())
        captions.write_playlist(
            stream=stream, rendition=rendition, segments=segments, name="replay.m3u8",
            media_sequence=segments[0].seq, discontinuity_sequence=0, ended=True, vod=True,
        )  # fmt: skip
    if not recorded:
        return
    anchored = any(r.name == stream.caption_anchor for r in recorded)
    text = playlists.render_master(
        ((f"{r.name}/replay.m3u8", _variant_attributes(r)) for r in recorded),
        subtitles=_subtitles(stream, "replay.m3u8") if anchored else None,
    )
    storage.put(live_key(stream, "replay.m3u8"), text.encode())


def delete_expired_segments(*, now: datetime, limit: int = 500) -> int:
    """Delete the files of segments that left the window at least their duration plus the
    window ago, for streams that do not record. Returns how many were deleted."""
    storage = get_storage()
    rows = (
        Segment.objects.filter(
            deleted=False, removed_at__isnull=False, rendition__stream__record=False
        )
        .select_related("rendition__stream")
        .order_by("removed_at")[:limit]
    )
    done = []
    for segment in rows:
        stream = segment.rendition.stream
        keep_until = (segment.removed_at or now) + timedelta(
            seconds=segment.duration + stream.window_seconds
        )
        if keep_until >= now:
            continue
        storage.delete(live_key(stream, segment.rendition.name, segment.file_name))
        for index in range(len(segment.parts)):
            name = playlists.part_uri(segment.seq, index, segment.extension)
            storage.delete(live_key(stream, segment.rendition.name, name))
        if segment.rendition.name == stream.caption_anchor:
            storage.delete(live_key(stream, captions.FOLDER, f"{segment.seq}.vtt"))
        done.append(segment.pk)
    if done:
        Segment.objects.filter(pk__in=done).update(deleted=True)
    return len(done)


# --- Low latency (LL-HLS): parts grouped into segments --------------------------------------
# In low latency each encoder segment (about HLS_PART_TARGET_MS long, starting on a keyframe)
# is published at once as a part `<seq>_<i>.<ext>` of the segment being built
# (`Rendition.open_segment`); once the parts add up to the target duration (the next one
# would exceed it) the segment is closed: its file is the parts' bytes one after the other
# (MPEG-TS and fMP4 fragments both concatenate), and regular clients read it as before.


def is_low_latency(stream: Stream) -> bool:
    # A relay's segments are whole upstream segments, never parts.
    return stream.latency == Latency.LOW and stream.mode != StreamMode.RELAY


def part_target(stream: Stream) -> float:
    return min(settings.HLS_PART_TARGET_MS / 1000, float(stream.target_duration))


def append_part(
    *,
    stream: Stream,
    rendition: Rendition,
    source_key: str,
    duration: float,
    ext: str,
    now: datetime,
    captured_at: datetime | None = None,
    upload_is_capture: bool = False,
) -> tuple[bool, Segment | None]:
    """Publish the object at `source_key` as the next part of the rendition's open segment
    (opening one if needed; closing the open one first at a discontinuity or a new init
    section). Returns (whether the part was published, the segment it closed or None). The
    caller saves `rendition` and writes its playlist afterwards."""
    storage = get_storage()
    if rounded(duration) > stream.target_duration:
        closed = close_open_segment(stream=stream, rendition=rendition, now=now)
        return (
            append_segment(
                stream=stream, rendition=rendition, source_key=source_key, duration=duration,
                ext=ext, now=now, captured_at=captured_at, upload_is_capture=upload_is_capture,
            ) is not None,
            closed,
        )  # fmt: skip
    closed = None
    opened = rendition.open_segment or None
    if opened is not None and (
        rendition.pending_discontinuity
        or opened["ext"] != ext
        or opened["init"] != rendition.current_init
    ):
        closed = close_open_segment(stream=stream, rendition=rendition, now=now)
        opened = None
    if storage.size(source_key) is None:
        return False, closed
    if opened is None:
        seq = rendition.next_seq
        discontinuity = rendition.pending_discontinuity and seq > 0
        pdt = _program_date_time(
            rendition=rendition, key=source_key, duration=duration, now=now,
            captured_at=captured_at, upload_is_capture=upload_is_capture,
            discontinuity=discontinuity,
        )  # fmt: skip
        opened = {"seq": seq, "pdt": pdt.isoformat(), "ext": ext, "init": rendition.current_init,
                  "discontinuity": discontinuity, "parts": []}  # fmt: skip
        rendition.pending_discontinuity = False
    name = playlists.part_uri(opened["seq"], len(opened["parts"]), ext)
    if not storage.move(source_key, live_key(stream, rendition.name, name)):
        return False, closed
    opened["parts"] = [*opened["parts"], round(duration, 5)]
    rendition.open_segment = opened
    if sum(opened["parts"]) + part_target(stream) > stream.target_duration + 1e-6:
        closed = close_open_segment(stream=stream, rendition=rendition, now=now) or closed
    return True, closed


def close_open_segment(*, stream: Stream, rendition: Rendition, now: datetime) -> Segment | None:
    """Turn the open segment's parts into a segment (see above); None if there is none."""
    opened = rendition.open_segment
    rendition.open_segment = {}
    if not opened or not opened["parts"]:
        return None
    storage = get_storage()
    seq, ext = opened["seq"], opened["ext"]
    data = bytearray()
    for index in range(len(opened["parts"])):
        key = live_key(stream, rendition.name, playlists.part_uri(seq, index, ext))
        data += storage.read(key, max_bytes=settings.HLS_MAX_OBJECT_BYTES) or b""
    storage.put(live_key(stream, rendition.name, f"{seq}.{ext}"), bytes(data))
    duration = round(sum(opened["parts"]), 5)
    pdt = datetime.fromisoformat(opened["pdt"])
    segment = Segment.objects.create(
        rendition=rendition, seq=seq, duration=duration, program_date_time=pdt,
        discontinuity=opened["discontinuity"], init_name=opened["init"], extension=ext,
        size=len(data), published_at=now, parts=opened["parts"],
    )  # fmt: skip
    rendition.next_seq = seq + 1
    rendition.next_pdt = pdt + timedelta(seconds=duration)
    rendition.peak_bits_per_second = max(
        rendition.peak_bits_per_second, int(len(data) * 8 / max(duration, 0.1))
    )
    captions.on_segment(stream=stream, rendition=rendition, segment=segment)
    return segment


def _low_latency_view(stream: Stream, rendition: Rendition) -> playlists.LowLatency | None:
    if not is_low_latency(stream):
        return None
    opened = rendition.open_segment or {}
    return playlists.LowLatency(
        part_target=part_target(stream),
        open_seq=opened.get("seq", rendition.next_seq),
        open_parts=tuple(opened.get("parts", ())),
        open_pdt=datetime.fromisoformat(opened["pdt"]) if opened else None,
        open_discontinuity=bool(opened.get("discontinuity")),
        open_init=opened.get("init", ""),
        extension=opened.get("ext") or _last_extension(rendition),
    )


def _last_extension(rendition: Rendition) -> str:
    last = rendition.segments.order_by("-seq").values_list("extension", flat=True).first()
    return last or "ts"
