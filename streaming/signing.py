"""Signed playback for private or paid events, and the internal credentials of RTMP ingest
(the transcoder's ingest token, the nginx-rtmp hooks' path token).

Playback URLs of a stream with `signed_playback` carry an expiring signature in their path:

    /s/<token>/<expires>/live/<public_id>/master.m3u8

`token` is nginx `secure_link`'s md5 form: base64url (no padding) of
md5("<expires>/live/<public_id>/ <secret>"). It covers the whole stream's prefix, so the
relative URIs inside our playlists (renditions, segments) resolve under the same signed prefix
and need no signature of their own, and one token serves every file of the stream. The edge
checks it with `secure_link` (deploy/nginx/edge.conf: a refused request costs no origin
request) and caches by `/live/<public_id>/…`, without the signature; the origin nginx checks
it again before serving a segment from storage (deploy/nginx/origin.conf.template), and Django
when a request reaches it (streaming/views.py). A signed stream's unsigned `/live/…` URLs get
403 from Django, from the origin nginx and from the edge, which ask Django whether a stream is
public (`views.playback_access`, kept 1 s) before serving an unsigned URL from storage or from
a cache filled while it was. Public streams keep plain `/live/…` URLs.

md5 because that is what nginx's secure_link computes; the secret sits at the end of the
hashed string, as nginx documents it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from django.conf import settings

SIGNED_PREFIX = "/s/"
EXPIRY_STEP_SECONDS = 600


def playback_token(*, public_id: str, expires: int, secret: str | None = None) -> str:
    """nginx secure_link_md5 "$secure_link_expires/live/<public_id>/ <secret>", base64url."""
    secret = settings.PLAYBACK_SIGNING_SECRET if secret is None else secret
    # md5 accepted (bandit B324): nginx's secure_link computes md5 and nothing else; the secret
    # suffix makes it a keyed hash, and the token expires (PLAYBACK_URL_TTL_SECONDS + 10 min).
    digest = hashlib.md5(  # noqa: S324  # nosec B324
        f"{expires}/live/{public_id}/ {secret}".encode()
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed_path(*, public_id: str, path: str, expires: int) -> str:
    """`/live/<public_id>/<path>` behind its signed prefix."""
    token = playback_token(public_id=public_id, expires=expires)
    return f"{SIGNED_PREFIX}{token}/{expires}/live/{public_id}/{path}"


def playback_path(*, public_id: str, path: str, signed: bool, now: float | None = None) -> str:
    """The URL path a player gets for `/live/<public_id>/<path>`: as is for public streams,
    signed for at least PLAYBACK_URL_TTL_SECONDS for the others. The expiry is rounded up to
    EXPIRY_STEP_SECONDS so that every viewer of a stream in that step gets the same URL: a CDN
    that keys its cache on the whole URL then keeps one copy per step, not one per viewer."""
    if not signed:
        return f"/live/{public_id}/{path}"
    earliest = int(now if now is not None else time.time()) + settings.PLAYBACK_URL_TTL_SECONDS
    expires = -(-earliest // EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS
    return signed_path(public_id=public_id, path=path, expires=expires)


def check_playback_token(
    *, public_id: str, token: str, expires: int, now: float | None = None
) -> str | None:
    """None if the token is valid now, else why not ("expired" or "bad signature"), as
    nginx decides: a wrong token first, then an expiry in the past."""
    expected = playback_token(public_id=public_id, expires=expires)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return "bad signature"
    if expires < int(now if now is not None else time.time()):
        return "expired"
    return None


# --- Internal credentials ------------------------------------------------------------------


def _derive(label: str, *parts: str) -> str:
    message = "|".join((label, *parts)).encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


TRANSCODER_TOKEN_PREFIX = "tc_"  # noqa: S105 (a prefix, not a secret)


def transcoder_token(*, public_id: str, key_hash: str) -> str:
    """The credential our transcoder PUTs with (`Authorization: Bearer <it>`). The stream key
    is stored only hashed, so the transcoder cannot know it: this token derives from the
    SECRET_KEY and the key's hash instead, so it dies with the key when staff rotate it, and
    a database leak alone does not reveal it."""
    return TRANSCODER_TOKEN_PREFIX + _derive("transcoder", public_id, key_hash)


def is_transcoder_token(token: str, *, public_id: str, key_hash: str) -> bool:
    if not token.startswith(TRANSCODER_TOKEN_PREFIX):
        return False
    expected = transcoder_token(public_id=public_id, key_hash=key_hash)
    return hmac.compare_digest(token.encode(), expected.encode())


def rtmp_hook_token() -> str:
    """The path component of nginx-rtmp's hook URLs: only our nginx calls them."""
    return _derive("rtmp-hook")[:32]
