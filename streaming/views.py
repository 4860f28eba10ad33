"""The origin (`/live/<public_id>/…` and its signed form `/s/<token>/<expires>/live/…`) and
the WSGI form of the ingest.

In production nginx serves segments straight from storage and proxies playlists here
(deploy/nginx/origin.conf.template); this view sets the headers either way: content types,
Cache-Control (half a target duration for live media playlists, long and immutable for
segments, short for the master, with bounded staleness, no-store for anything not
published), CORS, ETag, Range. A signed stream's files are served only under a valid signed
prefix (streaming/signing.py); nginx (edge and origin) checks the signature first, Django
again when a request reaches it, and nginx asks `playback_access` before serving an unsigned
URL from storage or its cache.
"""

from __future__ import annotations

import hashlib
import re

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from events.httpcache import etag_matches
from streaming import dateranges, ingest, playlists, selectors, services, signing
from streaming.captions import rendition as captions
from streaming.storage import ObjectTooLarge, get_storage

PATH = re.compile(
    r"^(?:(?P<rendition>[A-Za-z0-9][A-Za-z0-9_-]{0,63})/)?(?P<file>[A-Za-z0-9_-]{1,64})"
    r"\.(?P<ext>m3u8|ts|m4s|mp4|vtt)$"
)
SEGMENT_CACHE = "public, max-age=31536000, immutable"
VOD_CACHE = "public, max-age=3600"
NOT_PUBLISHED_CACHE = "no-store"
# How many target durations a cache may serve a live playlist while the origin fails.
STALE_IF_ERROR_TARGETS = 3
# How many target durations a cache may keep the answer to a blocking playlist reload (a
# live window's worth by default): our segment numbers are never reused, so the answer for a
# part stays right; only viewers far behind ask it late.
BLOCKING_TARGETS = 6
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, ETag",
}


def _cors(response: HttpResponse) -> HttpResponse:
    for name, value in CORS.items():
        response[name] = value
    return response


def _not_found() -> HttpResponse:
    response = HttpResponse("Not published.\n", status=404, content_type="text/plain")
    response["Cache-Control"] = NOT_PUBLISHED_CACHE
    return _cors(response)


def cache_control(
    *, file: str, rendition: str | None, ext: str, target_duration: int, blocking: bool = False
) -> str:
    """Segments immutable; live playlists short, with bounded staleness: a cache may serve an
    expired playlist while it refreshes it for one target duration (stale-while-revalidate),
    or while the origin fails for STALE_IF_ERROR_TARGETS of them, and never longer (so a 403
    or a 404 that replaced it reaches players)."""
    if ext != "m3u8":
        return SEGMENT_CACHE
    if file == "replay":
        return VOD_CACHE
    if blocking and rendition is not None:
        # The answer to a blocking reload (streaming/blocking.py): its URL names the part it
        # waited for, and it holds that part whenever it is asked, so every viewer asking
        # it may share it (the edge keys on it), a viewer a little behind the others
        # included; past that, a cache serves it while one request refreshes it (nginx locks
        # only new entries: without this, every viewer behind would reach the origin while
        # the entry is expired).
        keep = BLOCKING_TARGETS * target_duration
        return f"public, max-age={keep}, stale-while-revalidate={keep}"
    stale = (
        f"stale-while-revalidate={target_duration}, "
        f"stale-if-error={STALE_IF_ERROR_TARGETS * target_duration}"
    )
    if rendition is None:  # the master: short, renditions may still be added
        return f"public, max-age={target_duration}, {stale}"
    # A live media playlist changes every target duration: cache half of that.
    return f"public, max-age={max(1, target_duration // 2)}, {stale}"


def _byte_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(first, last) of a single `bytes=` range; None to ignore it (serve all); False if it
    cannot be satisfied."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first_s, last_s = match.groups()
    if first_s == "":
        suffix = int(last_s)
        if suffix == 0:
            return False
        return max(0, size - suffix), size - 1
    first = int(first_s)
    last = min(int(last_s), size - 1) if last_s else size - 1
    if first >= size or last < first:
        return False
    return first, last


def _forbidden(reason: str) -> HttpResponse:
    response = HttpResponse(f"Forbidden: {reason}.\n", status=403, content_type="text/plain")
    # A refusal is about this URL's signature: no cache may keep it for other URLs' sake.
    response["Cache-Control"] = "no-store"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_http_methods(["GET", "HEAD"])
def playback_access(request: HttpRequest, public_id: str) -> HttpResponse:
    """`/streaming/playback-access/<public_id>`: may the stream's unsigned `/live/` URLs be
    served? 204 yes (a public stream, or none: nothing to protect, the origin answers 404),
    403 no (it needs a signed URL). The origin nginx asks before serving an unsigned segment
    from storage, the edges before serving an unsigned request from their cache
    (auth_request); each keeps the answer 1 s (deploy/nginx/)."""
    if selectors.needs_signed_url(public_id=public_id):
        response = HttpResponse(status=403)
    else:
        response = HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    return response


def origin(request: HttpRequest, public_id: str, path: str) -> HttpResponse:
    """`/live/<public_id>/<path>`: a signed stream's files only under a valid signed prefix."""
    if request.method != "OPTIONS" and selectors.needs_signed_url(public_id=public_id):
        return _forbidden("this stream needs a signed URL")
    return published_file(request, public_id, path)


@require_http_methods(["GET", "HEAD", "OPTIONS"])
def signed_origin(
    request: HttpRequest, token: str, expires: int, public_id: str, path: str
) -> HttpResponse:
    """`/s/<token>/<expires>/live/<public_id>/<path>`: the token must be valid now."""
    if request.method != "OPTIONS":
        refused = signing.check_playback_token(public_id=public_id, token=token, expires=expires)
        if refused is not None:
            return _forbidden(refused)
    return published_file(request, public_id, path)


def _is_replay_media(match: re.Match[str]) -> bool:
    return (
        match["ext"] == "m3u8"
        and match["file"] == "replay"
        and match["rendition"] not in (None, captions.FOLDER)
    )


@require_http_methods(["GET", "HEAD", "OPTIONS"])
def published_file(request: HttpRequest, public_id: str, path: str) -> HttpResponse:
    """A published file of the stream with its headers (whoever may see it: see above)."""
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Range"
        response["Access-Control-Max-Age"] = "86400"
        return _cors(response)
    match = PATH.match(path)
    info = selectors.origin_info(public_id=public_id) if match else None
    if match is None or info is None:
        return _not_found()
    storage = get_storage()
    key = f"live/{public_id}/{path}"
    data = storage.read(key, max_bytes=256 * 1024 * 1024)
    if data is None:
        return _not_found()
    ext = match["ext"]
    if _is_replay_media(match):
        # The show's moments (the tally as it read, the asks), as of now (dateranges.py).
        data = dateranges.replay_with_dateranges(public_id=public_id, text=data)
    etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
    headers = {
        "Content-Type": playlists.CONTENT_TYPES[ext],
        "Cache-Control": cache_control(
            file=match["file"], rendition=match["rendition"], ext=ext,
            target_duration=info.target_duration,
            blocking=bool(request.GET.get("_HLS_msn")) and info.low_latency,
        ),
        "ETag": etag,
        "Accept-Ranges": "bytes" if ext != "m3u8" else "none",
    }  # fmt: skip
    if etag_matches(request, etag):
        response = HttpResponse(status=304)
    else:
        status, body = 200, data
        wanted = request.headers.get("Range") if ext != "m3u8" else None
        if wanted:
            span = _byte_range(wanted, len(data))
            if span is False:
                response = HttpResponse(status=416)
                response["Content-Range"] = f"bytes */{len(data)}"
                return _cors(response)
            if span:
                first, last = span  # type: ignore[misc]
                status, body = 206, data[first : last + 1]
                headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
        response = HttpResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return _cors(response)


@csrf_exempt
@require_http_methods(["PUT", "DELETE"])
def ingest_object(request: HttpRequest, public_id: str, name: str) -> HttpResponse:
    """The ingest under WSGI and the test client; under ASGI, ingest.IngestApp answers first."""
    if ingest.parse_path(f"{public_id}/{name}") is None:
        answer = ingest.BAD_NAME
    else:
        target = ingest.authorize(
            public_id=public_id, authorization=request.headers.get("Authorization", "")
        )
        if isinstance(target, ingest.Answer):
            answer = target
        elif request.method == "DELETE":
            services.discard_object(public_id=target.public_id, name=name)
            answer = ingest.Answer(204, "")
        else:
            answer = _receive(request, target, name)
    body = answer.message + "\n" if answer.message else ""
    return HttpResponse(body, status=answer.status, content_type="text/plain; charset=utf-8")


def _receive(request: HttpRequest, target: ingest.Target, name: str) -> ingest.Answer:
    receiver = ingest.Receiver(target, name)
    try:
        while chunk := request.read(64 * 1024):
            receiver.feed(chunk)
    except ObjectTooLarge:
        receiver.abort()
        return ingest.too_large()
    return receiver.finish()
