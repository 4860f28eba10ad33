"""RTMP from OBS: nginx-rtmp's `on_publish` / `on_update` / `on_publish_done` hooks
(deploy/nginx/rtmp.conf). Each parses nginx-rtmp's form, calls one service of
streaming/rtmp_sessions.py and answers.

The encoder publishes to `rtmp://<host>/live/<public_id>?key=<stream key>`. Before nginx-rtmp
accepts any media it POSTs the publish's form (`call=publish&app=live&name=<public_id>…` with
the URL's arguments, `key=…`, appended) to `on_publish`: 2xx lets the stream in, anything else
makes nginx-rtmp drop the connection (nothing is written anywhere: nginx-rtmp keeps no files,
its HLS output is off). `on_update`, every 10 s while publishing, drops an encoder whose key
was rotated meanwhile; `on_publish_done` ends the session.

The key travels in the hook's body only: it is never logged, stored or put in a file name.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from streaming import rtmp_sessions, signing
from streaming.rtmp_sessions import Publish, PublishRefused

RTMP_APP = "live"


def parse_publish(form: QueryDict) -> Publish:
    """The publish nginx-rtmp describes. nginx-rtmp writes its own fields first and appends
    the encoder's URL arguments after them, so an argument named like one of its fields
    (`?key=…&name=other`) shows up twice: refused, rather than guessing which one is real.
    Raises PublishRefused."""
    values = {}
    for field in ("app", "name", "key", "clientid"):
        given = form.getlist(field)
        if len(given) > 1:
            raise PublishRefused(400, f"{field} given twice")
        values[field] = given[0] if given else ""
    if values["app"] != RTMP_APP:
        raise PublishRefused(404, "unknown application")
    if not values["name"].isalnum() or len(values["name"]) > 32:
        raise PublishRefused(403, rtmp_sessions.WRONG_KEY)
    return Publish(public_id=values["name"], key=values["key"], client_id=values["clientid"][:32])


def _answer(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain")


def _hook_allowed(hook_token: str) -> bool:
    return hmac.compare_digest(hook_token.encode(), signing.rtmp_hook_token().encode())


HookView = Callable[[HttpRequest], HttpResponse]


def hook(view: HookView) -> Callable[[HttpRequest, str], HttpResponse]:
    """A hook view: POST only, no CSRF (nginx-rtmp posts forms), and a 404 unless the URL's
    path token is ours (only our nginx knows it)."""

    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def checked(request: HttpRequest, hook_token: str) -> HttpResponse:
        if not _hook_allowed(hook_token):
            return _answer(404, "Not found.")
        return view(request)

    return checked


def _accept_unless_refused(call: Callable[[], object]) -> HttpResponse:
    """200 when the service accepts the publish; its status and reason when it refuses."""
    try:
        call()
    except PublishRefused as refused:
        return _answer(refused.status, refused.message)
    return _answer(200, "OK")


@hook
def on_publish(request: HttpRequest) -> HttpResponse:
    return _accept_unless_refused(
        lambda: rtmp_sessions.start_publish(
            publish=parse_publish(request.POST), server=request.GET.get("server", "")
        )
    )


@hook
def on_update(request: HttpRequest) -> HttpResponse:
    if request.POST.get("call") != "update_publish":
        # nginx-rtmp calls on_update for players too (`update_play`): our transcoder, the
        # only player allowed (loopback), has no key to show.
        return _answer(200, "OK")
    return _accept_unless_refused(
        lambda: rtmp_sessions.check_publishing(publish=parse_publish(request.POST))
    )


@hook
def on_publish_done(request: HttpRequest) -> HttpResponse:
    try:
        publish = parse_publish(request.POST)
    except PublishRefused:
        return _answer(200, "Ignored.")  # nothing of ours was publishing
    rtmp_sessions.end_publish(public_id=publish.public_id, client_id=publish.client_id)
    return _answer(200, "OK")
