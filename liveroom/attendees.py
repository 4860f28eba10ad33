"""The attendee cookie: a signed, random id per browser that the event page sets, so the live
room can tell one browser's sockets from another's behind the same address (the per-attendee
seat cap, liveroom/seats.py). It names nobody and carries no personal data."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie

COOKIE = "pc_attendee"
MAX_AGE_S = 365 * 24 * 3600
_SALT = "liveroom.attendee"


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SALT)


def attendee_from_cookie(value: str | None) -> str | None:
    """The attendee id in a cookie value, or None when absent or not signed by us."""
    if not value or len(value) > 200:
        return None
    try:
        return _signer().unsign(value)
    except signing.BadSignature:
        return None


def attendee_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The attendee id from an ASGI scope's Cookie header (a WebSocket handshake)."""
    for name, value in headers:
        if name == b"cookie":
            return attendee_from_cookie(parse_cookie(value.decode("latin-1")).get(COOKIE))
    return None


def ensure_attendee_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """Give the browser an attendee id unless it has a valid one."""
    if attendee_from_cookie(request.COOKIES.get(COOKIE)) is not None:
        return
    response.set_cookie(
        COOKIE,
        _signer().sign(secrets.token_urlsafe(16)),
        max_age=MAX_AGE_S,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
