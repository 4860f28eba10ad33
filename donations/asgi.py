"""Stripe's webhook over HTTP: the checks, the database thread pool, and an ASGI fast path.

The Django view (views.stripe_webhook) and `StripeWebhookApp` share `check_webhook` and
`deliver`. The fast path answers `POST /donations/webhooks/stripe/` before Django's middleware
stack: under ASGI each sync middleware costs two thread hops per request, and a webhook needs
none of them (no session, user, CSRF or messages; the signature is the authentication).
Measured in bench/webhooks.py.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from django.http.request import split_domain_port, validate_host

from donations.providers import get_provider
from donations.providers.base import BadWebhook
from donations.providers.stripe_events import ParsedEvent
from donations.webhooks.apply import receive_event

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/donations/webhooks/stripe/"

# Webhooks touch the database from a small pool of long-lived threads per process: a bounded
# number of connections, each reused (a sync view under ASGI gets a new thread, and so a new
# database connection, per request: at a spike that exhausts PostgreSQL's connection slots).
_pool = ThreadPoolExecutor(
    max_workers=settings.DONATION_WEBHOOK_THREADS, thread_name_prefix="webhooks"
)
_pool_state = threading.local()


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    text: str
    event: ParsedEvent | None = None


def too_large(declared_length: str | None) -> bool:
    declared = declared_length or "0"
    return not declared.isdigit() or int(declared) > settings.STRIPE_WEBHOOK_MAX_BYTES


def check_webhook(*, payload: bytes, signature: str | None) -> WebhookAnswer:
    """The event, if the body is within the size cap and its signature and timestamp check
    out; otherwise the 4xx to answer."""
    if len(payload) > settings.STRIPE_WEBHOOK_MAX_BYTES:
        return WebhookAnswer(413, "Payload too large.")
    provider = get_provider()
    if provider is None:
        return WebhookAnswer(400, "Webhooks are not configured.")
    try:
        event = provider.verify_webhook(payload=payload, signature=signature)
    except BadWebhook as exc:
        log.warning("webhook refused reason=%s", str(exc)[:80])
        return WebhookAnswer(400, str(exc).rstrip(".") + ".")
    return WebhookAnswer(200, "ok", event)


def _receive_in_pool(event: ParsedEvent, raw: str | None) -> None:
    # What Django does around each request (drop a broken or expired connection, with its
    # health check query), here at most once a second per thread: it is not free at 500/s.
    now = time.monotonic()
    if now - getattr(_pool_state, "checked", 0.0) > 1.0:
        close_old_connections()
        _pool_state.checked = now
    receive_event(event=event, source="webhook", raw=raw)


async def deliver(event: ParsedEvent, raw: bytes | None = None) -> None:
    """Store and apply the event in the pool (a failure to apply is left to the sweep).
    `raw`: the verified body, stored as is."""
    text = raw.decode() if raw is not None else None
    await asyncio.get_running_loop().run_in_executor(_pool, _receive_in_pool, event, text)


def close_pool_connections() -> None:
    """Close the database connection of every pool thread (tests; a clean shutdown). One job
    per possible thread, held at a barrier, so each thread runs exactly one."""
    size = settings.DONATION_WEBHOOK_THREADS
    barrier = threading.Barrier(size)

    def close() -> None:
        barrier.wait(timeout=10)
        connections.close_all()

    for future in [_pool.submit(close) for _ in range(size)]:
        future.result()


class StripeWebhookApp:
    """ASGI middleware: answers the webhook path itself, passes everything else on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH:
            await self.app(scope, receive, send)
            return
        try:
            answer = await self._handle(scope, receive)
        except Exception:
            log.exception("webhook failed")
            answer = WebhookAnswer(500, "Server error.")
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if answer.status == 405:
            headers.append((b"allow", b"POST"))
        body = answer.text.encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: dict[str, Any], receive: Any) -> WebhookAnswer:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        domain, _ = split_domain_port(headers.get("host", ""))
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return WebhookAnswer(400, "Bad Request.")
        if scope["method"] != "POST":
            return WebhookAnswer(405, "Method Not Allowed.")
        if too_large(headers.get("content-length")):
            return WebhookAnswer(413, "Payload too large.")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return WebhookAnswer(400, "Client went away.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > settings.STRIPE_WEBHOOK_MAX_BYTES:
                return WebhookAnswer(413, "Payload too large.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        payload = b"".join(chunks)
        answer = check_webhook(payload=payload, signature=headers.get("stripe-signature"))
        if answer.event is not None:
            await deliver(answer.event, payload)
        return answer
