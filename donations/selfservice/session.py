"""The self-service session: a signed cookie naming the donor's email address, set when a link
is used and good for MANAGE_SESSION_MINUTES (the signature's age is checked, whatever the
browser keeps). Sent only to /donations/manage/, only with same-site requests (SameSite=Strict:
no other site can make a donor's browser act on their gifts), never to scripts."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

COOKIE = "pc_manage"
PATH = "/donations/manage/"
_SALT = "donations.selfservice.session"
_MAX_COOKIE = 1000


def start_session(response: HttpResponse, *, email: str, link_id: int) -> None:
    value = signing.dumps({"e": email, "l": link_id}, salt=_SALT, compress=True)
    response.set_cookie(
        COOKIE,
        value,
        max_age=settings.MANAGE_SESSION_MINUTES * 60,
        path=PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    response["Cache-Control"] = "private, no-store"


def session_email(request: HttpRequest) -> str | None:
    """The donor's email address while their session lasts; None without a valid one."""
    value = request.COOKIES.get(COOKIE, "")
    if not value or len(value) > _MAX_COOKIE:
        return None
    try:
        data = signing.loads(value, salt=_SALT, max_age=settings.MANAGE_SESSION_MINUTES * 60)
    except signing.BadSignature:  # SignatureExpired included
        return None
    email = data.get("e") if isinstance(data, dict) else None
    return email if isinstance(email, str) and email else None


def end_session(response: HttpResponse) -> None:
    response.delete_cookie(COOKIE, path=PATH, samesite="Strict")
