"""A local fake of the parts of Stripe's API we call, on a loopback port, reached through the
official library's `base_addresses`. The only fake in the suite: it stands for the remote API.

It keeps PaymentIntents and Refunds in memory, honours idempotency keys (the same key gives the
same answer, as Stripe does for 24 hours), paginates lists, and answers 402, 429 or 500 when a
test asks it to (`fail_next`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ERRORS = {
    402: {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
    },
    429: {
        "type": "invalid_request_error",
        "code": "rate_limit",
        "message": "Too many requests hit the API too quickly.",
    },
    500: {"type": "api_error", "message": "Something went wrong on Stripe's end."},
}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None
    status: int


def _nest(flat: dict[str, str]) -> dict[str, Any]:
    """`metadata[donation_id]=7` → {"metadata": {"donation_id": "7"}} (one level deep)."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        if "[" in name:
            outer, inner = name.split("[", 1)
            out.setdefault(outer, {})[inner.split("]")[0]] = value
        else:
            out[name] = value
    return out


class FakeStripe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intents: dict[str, dict[str, Any]] = {}  # insertion order = creation order
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self._idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
        self._failures: list[int] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control from tests ---

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, status: int, times: int = 1) -> None:
        with self.lock:
            self._failures.extend([status] * times)

    def add_intent(self, **fields: Any) -> dict[str, Any]:
        with self.lock:
            return self._new_intent(fields)

    def calls(self, method: str, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- the API ---

    def _new_intent(self, fields: dict[str, Any]) -> dict[str, Any]:
        n = len(self.intents) + 1
        intent_id = fields.pop("id", f"pi_fake_{n:06d}")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(fields.pop("amount", 0)),
            "amount_received": 0,
            "currency": fields.pop("currency", "usd"),
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_fake",
            "metadata": fields.pop("metadata", {}),
            "created": int(fields.pop("created", time.time())),
            "latest_charge": None,
            "last_payment_error": None,
            "livemode": False,
        }
        intent.update(fields)
        self.intents[intent_id] = intent
        return intent

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        if method == "POST" and path == "/v1/payment_intents":
            fields = {k: v for k, v in params.items() if k != "automatic_payment_methods"}
            return 200, self._new_intent(fields)
        if method == "GET" and path == "/v1/payment_intents":
            return 200, self._list(params)
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            intent = self.intents.get(path.rsplit("/", 1)[1])
            return (200, intent) if intent else (404, {"type": "invalid_request_error"})
        if method == "POST" and path == "/v1/refunds":
            intent = self.intents.get(params.get("payment_intent", ""))
            if intent is None:
                return 404, {"type": "invalid_request_error", "message": "No such payment."}
            refund_id = f"re_fake_{len(self.refunds) + 1:06d}"
            refund = {
                "id": refund_id,
                "object": "refund",
                "amount": int(params.get("amount", intent["amount"])),
                "payment_intent": intent["id"],
                "status": "succeeded",
                "currency": intent["currency"],
            }
            self.refunds[refund_id] = refund
            return 200, refund
        return 404, {"type": "invalid_request_error", "message": f"Unknown {method} {path}"}

    def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        gte = int(params.get("created", {}).get("gte", 0))
        limit = int(params.get("limit", 10))
        rows = [i for i in reversed(self.intents.values()) if i["created"] >= gte]  # newest first
        after = params.get("starting_after")
        if after:
            ids = [r["id"] for r in rows]
            rows = rows[ids.index(after) + 1 :] if after in ids else []
        return {
            "object": "list",
            "url": "/v1/payment_intents",
            "has_more": len(rows) > limit,
            "data": rows[:limit],
        }

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        flat = dict(parse_qsl(body if method == "POST" else split.query))
        params = _nest(flat)
        key = handler.headers.get("Idempotency-Key")
        with self.lock:
            if self._failures:
                status = self._failures.pop(0)
                answer: Any = {"error": ERRORS[status]}
            elif key and key in self._idempotent:
                status, answer = self._idempotent[key]
            else:
                status, answer = self._route(method, split.path, params)
                if status != 200:
                    answer = {"error": answer}
                if key and method == "POST":
                    self._idempotent[key] = (status, answer)
            self.requests.append(Request(method, split.path, flat, key, status))
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", f"req_{len(self.requests)}")
        handler.end_headers()
        handler.wfile.write(data)
