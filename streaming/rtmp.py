"""RTMP from OBS: nginx-rtmp's `on_publish` / `on_publish_done` hooks (deploy/nginx/rtmp.conf).

The encoder publishes to `rtmp://<host>/live/<public_id>?key=<stream key>`. Before nginx-rtmp
accepts any media it POSTs the publish's form (`call=publish&app=live&name=<public_id>…` with
the URL's arguments, `key=…`, appended) to `on_publish`: 2xx lets the stream in, anything else
makes nginx-rtmp drop the connection (nothing is written anywhere: nginx-rtmp keeps no files,
its HLS output is off). Accepting marks the stream's transcoder as publishing; the supervisor
(streaming/transcoder.py) then starts ffmpeg for it. `on_publish_done` clears that, and the
supervisor stops ffmpeg. `on_update`, every 10 s while publishing, drops an encoder whose key
was rotated meanwhile.

The key travels in the hook's body only: it is never logged, stored or put in a file name.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from streaming import selectors, signing
from streaming.models import Stream, Transcoder

log = logging.getLogger(__name__)

RTMP_APP = "live"


@dataclass(frozen=True)
class Publish:
    public_id: str
    key: str
    client_id: str


class HookRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_publish(form: QueryDict) -> Publish:
    """The publish nginx-rtmp describes. nginx-rtmp writes its own fields first and appends
    the encoder's URL arguments after them, so an argument named like one of its fields
    (`?key=…&name=other`) shows up twice: refused, rather than guessing which one is real."""
    values = {}
    for field in ("app", "name", "key", "clientid"):
        given = form.getlist(field)
        if len(given) > 1:
            raise HookRefused(400, f"{field} given twice")
        values[field] = given[0] if given else ""
    if values["app"] != RTMP_APP:
        raise HookRefused(404, "unknown application")
    if not values["name"].isalnum() or len(values["name"]) > 32:
        raise HookRefused(403, "Wrong or rotated stream key.")
    return Publish(public_id=values["name"], key=values["key"], client_id=values["clientid"][:32])


SERVER_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@transaction.atomic
def start_publish(*, publish: Publish, server: str = "") -> Transcoder:
    """Accept an RTMP publish: the key must be the stream's current key and the stream must
    take video now (the same rules as HLS push ingest). Raises HookRefused (nothing changes)."""
    key = publish.key.strip()
    # The transcoder's derived token opens the HTTP ingest; an encoder must use the key.
    if not key or key.startswith(signing.TRANSCODER_TOKEN_PREFIX):
        raise HookRefused(403, "Wrong or rotated stream key.")
    try:
        stream = selectors.access_stream_for_ingest(
            public_id=publish.public_id, authorization=f"Bearer {key}"
        )
    except selectors.IngestRefused as refused:
        log.info("rtmp publish refused", extra={"public_id": publish.public_id,
                                                "status": refused.status})  # fmt: skip
        raise HookRefused(refused.status, refused.message) from None
    if not SERVER_NAME.match(server):
        raise HookRefused(400, "no or bad server name in the hook URL")
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
    """nginx-rtmp's periodic `on_update`: the publisher may go on only while its key is still
    the stream's key (staff rotating the key drop a connected encoder within one update
    interval) and the stream still takes video. Raises HookRefused."""
    key = publish.key.strip()
    if not key or key.startswith(signing.TRANSCODER_TOKEN_PREFIX):
        raise HookRefused(403, "Wrong or rotated stream key.")
    try:
        selectors.access_stream_for_ingest(
            public_id=publish.public_id, authorization=f"Bearer {key}"
        )
    except selectors.IngestRefused as refused:
        log.info("rtmp publisher dropped", extra={"public_id": publish.public_id,
                                                  "status": refused.status})  # fmt: skip
        raise HookRefused(refused.status, refused.message) from None


@transaction.atomic
def end_publish(*, public_id: str, client_id: str) -> bool:
    """The encoder stopped (or was dropped): the transcoder stops. Only the connection that
    is publishing can stop it. The stream is not ended: OBS reconnects after a network
    drop, and staff end the stream (or the event) when it is really over."""
    stopped = Transcoder.objects.filter(
        stream__public_id=public_id, publishing=True, client_id=client_id
    ).update(publishing=False)
    if stopped:
        log.info("rtmp publish done", extra={"public_id": public_id, "client_id": client_id})
    return bool(stopped)


@transaction.atomic
def set_delivery_options(*, stream_id: int, ladder: str, signed_playback: bool) -> None:
    """Staff's Streaming II choices for a stream: the ladder (taken by the next transcoder
    start) and signed playback (at once: unsigned URLs get 403 from the next request)."""
    Stream.objects.select_for_update().filter(pk=stream_id).update(
        ladder=ladder, signed_playback=signed_playback
    )
    log.info("stream delivery options", extra={"stream_id": stream_id, "ladder": ladder,
                                                "signed_playback": signed_playback})  # fmt: skip


# --- the hooks ---------------------------------------------------------------------------


def _answer(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain")


def _hook_allowed(hook_token: str) -> bool:
    return hmac.compare_digest(hook_token.encode(), signing.rtmp_hook_token().encode())


@csrf_exempt
@require_POST
def on_publish(request: HttpRequest, hook_token: str) -> HttpResponse:
    if not _hook_allowed(hook_token):
        return _answer(404, "Not found.")
    try:
        start_publish(publish=parse_publish(request.POST), server=request.GET.get("server", ""))
    except HookRefused as refused:
        return _answer(refused.status, refused.message)
    return _answer(200, "OK")


@csrf_exempt
@require_POST
def on_update(request: HttpRequest, hook_token: str) -> HttpResponse:
    if not _hook_allowed(hook_token):
        return _answer(404, "Not found.")
    if request.POST.get("call") != "update_publish":
        # nginx-rtmp calls on_update for players too (`update_play`): our transcoder, the
        # only player allowed (loopback), has no key to show.
        return _answer(200, "OK")
    try:
        check_publishing(publish=parse_publish(request.POST))
    except HookRefused as refused:
        return _answer(refused.status, refused.message)
    return _answer(200, "OK")


@csrf_exempt
@require_POST
def on_publish_done(request: HttpRequest, hook_token: str) -> HttpResponse:
    if not _hook_allowed(hook_token):
        return _answer(404, "Not found.")
    try:
        publish = parse_publish(request.POST)
    except HookRefused:
        return _answer(200, "Ignored.")  # nothing of ours was publishing
    end_publish(public_id=publish.public_id, client_id=publish.client_id)
    return _answer(200, "OK")
