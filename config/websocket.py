"""The gate in front of every WebSocket route: an exact Origin check, and a close code (never a
traceback) for a path that matches no route.

Origin: a browser's socket must come from a page of this site. The Origin must be exactly the
origin the socket was opened on (the scheme, the Host header's name and port, which must be in
ALLOWED_HOSTS), or one of CSRF_TRUSTED_ORIGINS: the rule Django's CSRF check applies to
forms. The same host on another port, or no Origin at all, is refused at the handshake (HTTP
403), before any consumer runs.

Unknown path: the socket is accepted and closed with 4404 at once, like an unknown event.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.urls import URLPattern

log = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404

Scope = dict[str, Any]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def origin_allowed(scope: Scope) -> bool:
    """Whether the handshake's Origin is this site's own (see the module's docstring)."""
    origin, host = _header(scope, b"origin"), _header(scope, b"host")
    if not origin or not host:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    try:
        offered, opened_on = urlsplit(origin), urlsplit("//" + host)
        if offered.path or offered.query or offered.fragment or not offered.hostname:
            return False
        return _origin(offered.scheme, offered.hostname, offered.port) == _origin(
            scheme, opened_on.hostname or "", opened_on.port
        )
    except ValueError:  # a port that is not a number
        return False


def _origin(scheme: str, hostname: str, port: int | None) -> str:
    default = 443 if scheme == "https" else 80
    name = f"[{hostname}]" if ":" in hostname else hostname
    return f"{scheme}://{name.lower()}" + ("" if port in (None, default) else f":{port}")


def has_route(routes: list[URLPattern], scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    if root and not path.startswith(root):
        return False
    path = path[len(root) :].lstrip("/")
    try:
        return any(route.pattern.match(path) for route in routes)
    except Exception:  # a path Django's patterns cannot even look at
        return False


class WebSocketGate:
    """ASGI: refuse foreign origins at the handshake, close unknown paths with 4404, and pass
    the rest to `router`."""

    def __init__(self, router: Any, routes: list[URLPattern]) -> None:
        self.router = router
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if not origin_allowed(scope):
            log.info("websocket refused: origin", extra={"path": scope.get("path", "")[:200]})
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4403})  # before accept: HTTP 403
            return
        if not has_route(self.routes, scope):
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_NOT_FOUND})
            return
        await self.router(scope, receive, send)
