"""RTMP publish sessions: an encoder publishing to nginx-rtmp is accepted, checked while it
publishes, and ended (nginx-rtmp's hooks, streaming/rtmp.py, call these).

A session is the stream's Transcoder row: accepting sets `publishing`, and the transcoder
supervisor (streaming/transcoder.py) then runs ffmpeg for the stream; ending clears it, and
the supervisor stops ffmpeg. The key is checked by the same rules as HTTP push ingest
(selectors.access_stream_for_ingest); it is never logged, stored or put in a file name.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from streaming import selectors, signing
from streaming.models import Stream, Transcoder
from streaming.refusals import EncoderRefused

log = logging.getLogger(__name__)

SERVER_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
WRONG_KEY = "Wrong or rotated stream key."


@dataclass(frozen=True)
class Publish:
    """An encoder's publish, as nginx-rtmp describes it."""

    public_id: str
    key: str
    client_id: str


class PublishRefused(EncoderRefused):
    """Why a publish is refused (400, 403, 404, 409)."""


def _check_key(publish: Publish, *, refusal: str) -> Stream:
    key = publish.key.strip()
    # The transcoder's derived token opens the HTTP ingest; an encoder must use the key.
    if not key or key.startswith(signing.TRANSCODER_TOKEN_PREFIX):
        raise PublishRefused(403, WRONG_KEY)
    try:
        return selectors.access_stream_for_ingest(
            public_id=publish.public_id, authorization=f"Bearer {key}"
        )
    except selectors.IngestRefused as refused:
        log.info(refusal, extra={"public_id": publish.public_id, "status": refused.status})
        raise PublishRefused(refused.status, refused.message) from None


@transaction.atomic
def start_publish(*, publish: Publish, server: str = "") -> Transcoder:
    """Accept an RTMP publish on the nginx-rtmp named `server`: the key must be the stream's
    current key and the stream must take video now (the same rules as HLS push ingest).
    Locks the stream's row, then its transcoder's. Raises PublishRefused (nothing changes)."""
    stream = _check_key(publish, refusal="rtmp publish refused")
    if not SERVER_NAME.match(server):
        raise PublishRefused(400, "no or bad server name in the hook URL")
    # One lock order everywhere: the stream's row, then its transcoder's.
    Stream.objects.select_for_update().only("pk").get(pk=stream.pk)
    Transcoder.objects.get_or_create(stream=stream)
    transcoder = Transcoder.objects.select_for_update().get(stream=stream)
    transcoder.publishing = True
    transcoder.client_id = publish.client_id
    transcoder.rtmp_server = server
    transcoder.publish_started_at = timezone.now()
    transcoder.save(update_fields=["publishing", "client_id", "rtmp_server", "publish_started_at"])
    log.info("rtmp publish", extra={"stream_id": stream.pk, "client_id": publish.client_id})
    return transcoder


def check_publishing(*, publish: Publish) -> None:
    """nginx-rtmp's periodic check of a publisher: it may go on only while its key is still
    the stream's key (staff rotating the key drop a connected encoder within one update
    interval) and the stream still takes video. Raises PublishRefused."""
    _check_key(publish, refusal="rtmp publisher dropped")


@transaction.atomic
def end_publish(*, public_id: str, client_id: str) -> bool:
    """The encoder stopped (or was dropped): the transcoder stops. Only the connection that
    is publishing can stop it. The stream is not ended: OBS reconnects after a network
    drop, and staff end the stream (or the event) when it is really over. Returns whether
    a session ended."""
    stopped = Transcoder.objects.filter(
        stream__public_id=public_id, publishing=True, client_id=client_id
    ).update(publishing=False)
    if stopped:
        log.info("rtmp publish done", extra={"public_id": public_id, "client_id": client_id})
    return bool(stopped)
