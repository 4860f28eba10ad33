"""Errors as each client reads them: a JSON client (the donate panel, the player, anything that
asks for JSON) gets `{"error": "<a sentence>"}` with the status, never an HTML page it cannot
show; a browser gets Django's pages. Every 429 says when to come back (`Retry-After`), and so
does the 503 of a database that takes no more connections (the pool waited its timeout, the
server is full, down or starting): the request changed nothing, since it never got a connection.

The 503 holds wherever the request meets the database's failure. In the view, ErrorsMiddleware's
process_exception answers it. Anywhere else (a middleware loading the user, the session saved
on the way out) Django turns the exception into a response in the very middleware layer it
came out of, before any middleware above sees it, by calling the URLconf's handler400 or
handler500: `bad_request` and `server_error` here (config/urls.py) answer the 503 there.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import psycopg
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import defaults

log = logging.getLogger(__name__)

# When a 429 does not say (every limit of ours does): a minute.
DEFAULT_RETRY_AFTER_S = 60
# A database out of connections: the pool's wait is seconds, a spike passes in as many.
DATABASE_RETRY_AFTER_S = 5
DATABASE_UNAVAILABLE = (
    "The service is busy and could not reach its database. Nothing was changed; "
    "please try again in a few seconds."
)

MESSAGES = {
    400: "The request could not be read.",
    403: "This is not allowed.",
    404: "Not found.",
    405: "This address does not take that kind of request.",
    413: "The request is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. Please try again.",
    503: DATABASE_UNAVAILABLE,
}
CSRF_MESSAGE = "This page is out of date or your session expired. Reload the page and try again."


def wants_json(request: HttpRequest) -> bool:
    """A client that sends or asks for JSON, or asks a `.json` address."""
    accept = request.headers.get("Accept", "")
    return (
        request.path.endswith(".json")
        or request.content_type == "application/json"
        or ("application/json" in accept and "text/html" not in accept)
    )


def _unreadable(response: HttpResponse) -> bool:
    """An HTML page, or no body at all: nothing a JSON client can show. (JSON and plain-text
    sentences, such as the webhook receiver's, are left as they are.)"""
    kind = str(response.get("Content-Type", ""))
    return kind.startswith("text/html") or not getattr(response, "content", b"x")


def json_error(status: int, message: str | None = None) -> JsonResponse:
    return JsonResponse({"error": message or MESSAGES.get(status, MESSAGES[400])}, status=status)


# SQLSTATEs of a server that refuses connections: connection exceptions (08…), too many
# connections (53300), shutting down or starting up (57P01-57P03).
_REFUSING = ("08", "53300", "57P01", "57P02", "57P03")


def _refused_connection(exc: BaseException) -> bool:
    if not isinstance(exc, (OperationalError, psycopg.OperationalError)):
        return False
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    if not isinstance(cause, psycopg.Error):
        return False
    # No SQLSTATE: the pool's timeout (psycopg_pool.PoolTimeout, an OperationalError), or a
    # connection that could not be made or was lost.
    return cause.sqlstate is None or cause.sqlstate.startswith(_REFUSING)


def _unavailability(exc: BaseException) -> BaseException | None:
    """The database error in `exc`'s chain that says no connection, if any."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if _refused_connection(link):
            return link
        seen.add(id(link))
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
    return None


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database gave no connection (the pool's timeout, a full, down or
    starting server, a lost connection) rather than refusing a statement (a deadlock, a bad
    query: those stay errors); or was raised from, or while handling, such an error (the
    session's SessionInterrupted, raised for the UpdateError of a save that lost the
    database)."""
    return _unavailability(exc) is not None


def database_unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 for `exc` (database_unavailable): JSON or a small page, with Retry-After.
    Rendered without the request, so that no context processor touches the session or the
    user, which need the database."""
    reason = _unavailability(exc) or exc
    log.warning("database unavailable path=%s reason=%s", request.path, type(reason).__name__)
    if wants_json(request):
        response: HttpResponse = json_error(503, DATABASE_UNAVAILABLE)
    else:
        page = render_to_string("503.html", {"message": DATABASE_UNAVAILABLE})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    return response


class ErrorsMiddleware:
    """Turns a JSON client's error page into `{"error": …}`, and an empty error body into a
    sentence (keeping Allow, Retry-After and the other headers), answers a too-large body with
    413, answers a database out of connections with 503 and Retry-After, and puts Retry-After
    on 429s."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code >= 400 and not getattr(response, "streaming", False):
            converted: HttpResponse | None = None
            if wants_json(request) and _unreadable(response):
                converted = json_error(response.status_code)
            elif not response.content and request.method != "HEAD":
                # A bare 405 or 400: a sentence a person can read.
                message = MESSAGES.get(response.status_code, MESSAGES[400])
                converted = HttpResponse(message, status=response.status_code)
                converted["Content-Type"] = "text/plain; charset=utf-8"
            if converted is not None:
                for header, value in response.items():  # Allow, Retry-After, Content-Range…
                    if header.lower() not in ("content-type", "content-length"):
                        converted[header] = value
                response = converted
        if response.status_code == 429 and "Retry-After" not in response:
            response["Retry-After"] = str(DEFAULT_RETRY_AFTER_S)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            if wants_json(request):
                return json_error(413)
            return HttpResponse(MESSAGES[413], status=413, content_type="text/plain")
        if database_unavailable(exception):
            # The view's transaction, if it began, was rolled back by the failure.
            return database_unavailable_response(request, exception)
        return None


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400. A 400 that a database failure caused is the 503: the session middleware
    raises SessionInterrupted (a BadRequest) when saving the session lost the database."""
    if database_unavailable(exception):
        return database_unavailable_response(request, exception)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the exception nothing turned into a response. Django calls it inside its
    `except` block, so sys.exc_info() holds it; a database that gave no connection is the 503.
    (With DEBUG, Django shows its traceback page instead and calls no handler.)"""
    exception = sys.exc_info()[1]
    if exception is not None and database_unavailable(exception):
        return database_unavailable_response(request, exception)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a JSON client learns to reload the page; a browser sees the same
    in a page of ours."""
    if wants_json(request):
        return json_error(403, CSRF_MESSAGE)
    return render(request, "403_csrf.html", {"message": CSRF_MESSAGE}, status=403)
