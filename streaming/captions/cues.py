"""Caption cues: where they come from (a human captioner's CART posts, speech recognition),
how they are checked, and where they land on the program's clock.

A cue is placed at the start of the next segment the anchor rendition will publish (its
`next_pdt`), read under the stream's row lock, the lock the playlist writer holds while it
publishes: so a cue is never placed in a segment already published (whose WebVTT is written
and immutable), and it reaches viewers with the very next one. Captions therefore follow
what was said by the time it took to type or recognise it, as live captions on television
do. The caption key (CART) is stored only hashed, like the stream key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from streaming.models import (
    CaptionCue,
    CaptionMode,
    CaptionSource,
    Rendition,
    Stream,
    StreamState,
)

log = logging.getLogger(__name__)

KEY_PREFIX = "ck_"
MAX_BODY_BYTES = 4096
MAX_LINES = 8
MAX_LINE_CHARS = 120
LINES_PER_CUE = 2
# How long a cue stays up: a reading pace of words, within bounds.
MIN_CUE_SECONDS, MAX_CUE_SECONDS, SECONDS_PER_WORD = 2.0, 6.0, 0.4


class CaptionRefused(Exception):
    """Why a caption post is refused: `status` (400, 403, 409) and a message for the
    captioner."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def rotate_caption_key(*, stream_id: int) -> str:
    """A new CART caption key for the stream (returned once, stored hashed); the old one
    stops at once."""
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    Stream.objects.filter(pk=stream_id).update(caption_key_hash=_hash(key))
    log.info("caption key rotated", extra={"stream_id": stream_id})
    return key


def access_stream_for_captions(*, public_id: str, authorization: str) -> Stream:
    """The stream a captioner may post to with `Authorization: Bearer <caption key>`.
    Raises CaptionRefused: 403 for a missing or wrong key (the same for an unknown stream),
    409 when the stream takes no captions now."""
    scheme, _, key = authorization.partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else ""
    stream = Stream.objects.filter(public_id=public_id).first() if key else None
    expected = stream.caption_key_hash if stream is not None and stream.caption_key_hash else ""
    # Compare digests in constant time; hash something even for an unknown stream.
    if not hmac.compare_digest(_hash(key), expected or "0" * 64) or stream is None:
        raise CaptionRefused(403, "Wrong caption key.")
    if stream.captions == CaptionMode.OFF:
        raise CaptionRefused(409, "Live captions are off for this stream: staff turn them on.")
    return stream


def parse_lines(body: bytes) -> list[str]:
    """The caption lines of a CART post: UTF-8 text, one line per line, at most MAX_LINES
    lines of MAX_LINE_CHARS characters in MAX_BODY_BYTES. Raises CaptionRefused (400)."""
    if len(body) > MAX_BODY_BYTES:
        raise CaptionRefused(400, f"Too large: at most {MAX_BODY_BYTES} bytes per post.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CaptionRefused(400, "Captions are UTF-8 text.") from None
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise CaptionRefused(400, "No caption text: post one line of text per caption line.")
    if len(lines) > MAX_LINES:
        raise CaptionRefused(400, f"At most {MAX_LINES} lines per post.")
    for line in lines:
        if len(line) > MAX_LINE_CHARS:
            raise CaptionRefused(400, f"A line is at most {MAX_LINE_CHARS} characters.")
        if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in line):
            raise CaptionRefused(400, "Captions are plain text: no control characters.")
    return lines


def cue_seconds(text: str) -> float:
    return min(MAX_CUE_SECONDS, max(MIN_CUE_SECONDS, SECONDS_PER_WORD * len(text.split()) + 1))


@dataclass(frozen=True)
class Placed:
    """What add_cues made: the cues, and where the first starts on the program's clock."""

    cues: list[CaptionCue]
    start: datetime


@transaction.atomic
def add_cues(
    *, stream_id: int, lines: list[str], source: str = CaptionSource.CART,
    now: datetime | None = None, spoken_end: datetime | None = None,
) -> Placed:  # fmt: skip
    """Cues of `lines` (LINES_PER_CUE lines each, one after the other) from the start of
    the next segment the anchor rendition publishes; `spoken_end`: when recognised speech
    ended on the program's clock. Locks the stream's row (see above). Raises CaptionRefused
    (409) while no video arrives: there is no program to caption."""
    now = now or timezone.now()
    stream = Stream.objects.select_for_update().get(pk=stream_id)
    if stream.state != StreamState.LIVE:
        raise CaptionRefused(409, "No video is arriving: captions are taken while it does.")
    renditions = Rendition.objects.filter(stream=stream, next_pdt__isnull=False)
    anchor = (
        renditions.filter(name=stream.caption_anchor).first() if stream.caption_anchor else None
    )
    if anchor is None:
        anchor = renditions.order_by("-next_pdt").first()
    if anchor is None or anchor.next_pdt is None:
        raise CaptionRefused(409, "No video is arriving: captions are taken while it does.")
    start = anchor.next_pdt
    cues = []
    at = start
    for first in range(0, len(lines), LINES_PER_CUE):
        text = "\n".join(lines[first : first + LINES_PER_CUE])
        end = at + timedelta(seconds=cue_seconds(text))
        cues.append(CaptionCue(stream=stream, start=at, end=end, text=text, source=source,
                               created_at=now, spoken_end=spoken_end))  # fmt: skip
        at = end
    CaptionCue.objects.bulk_create(cues)
    log.info("caption cues", extra={"stream_id": stream.pk, "cues": len(cues), "source": source})
    return Placed(cues=cues, start=start)
