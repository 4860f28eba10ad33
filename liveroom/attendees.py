"""The attendee cookie: a signed, random id per browser that the event page sets, so the live
room can tell one browser's sockets from another's behind the same address (the per-attendee
seat cap, liveroom/seats.py). It names nobody and carries no personal data.

It is also who takes part in the room (asks, upvotes, votes: `participant`): the attendee of
this browser, or, for an event that asks for registration, the registration its signed
per-event cookie names (one person, one vote on every device). Never the socket: a reconnect,
a second tab or another web process is the same participant.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie

from events import selectors as event_selectors

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


def cookies_from_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The cookies of an ASGI scope's Cookie header (a WebSocket handshake)."""
    for name, value in headers:
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1"))
    return {}


# Why a browser cannot take part (ask, upvote, vote), as the page says it.
NO_ATTENDEE = "Reload the page to take part: this browser has no attendee cookie."
NOT_REGISTERED = "Register for this event to ask questions and vote."


def participant(
    cookies: dict[str, str], *, event_id: int, registration_required: bool
) -> tuple[str | None, str]:
    """(who takes part, "") or (None, why not). The key is a hash (32 hex characters) of the
    attendee id, or of the registration's token for an event that asks for registration: the
    engagement app stores it to count one vote per participant, and a stored key lets nobody
    act as the participant."""
    if registration_required:
        token = event_selectors.registration_token_in_cookies(event_id=event_id, cookies=cookies)
        return (_key("registration", token), "") if token else (None, NOT_REGISTERED)
    attendee = attendee_from_cookie(cookies.get(COOKIE))
    return (_key("attendee", attendee), "") if attendee else (None, NO_ATTENDEE)


def _key(kind: str, value: str) -> str:
    digest = hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=16, person=b"pc-participant")
    return digest.hexdigest()


def page_cookies(request: HttpRequest) -> tuple[dict[str, str], str | None]:
    """The request's cookies as the page's next WebSocket handshake will send them: with an
    attendee cookie (a new one when the browser has no valid one), and that new cookie's
    signed value for `set_attendee_cookie` (None when the browser keeps its own)."""
    cookies = dict(request.COOKIES)
    if attendee_from_cookie(cookies.get(COOKIE)) is not None:
        return cookies, None
    cookies[COOKIE] = value = _signer().sign(secrets.token_urlsafe(16))
    return cookies, value


def set_attendee_cookie(response: HttpResponse, value: str) -> None:
    """Give the browser the attendee cookie `page_cookies` made for it."""
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_S,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
