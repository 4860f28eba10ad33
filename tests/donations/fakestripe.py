"""A local fake of the parts of Stripe's API we call, on a loopback port, reached through the
official library's `base_addresses`. The only fake in the suite: it stands for the remote API.

It keeps PaymentIntents and Refunds in memory, honours idempotency keys (the same key gives the
same answer, as Stripe does for 24 hours), paginates lists, and answers 402, 429 or 500 when a
test asks it to (`fail_next`).

Monthly gifts: Products, Customers and Subscriptions in the shapes of the pinned API version
(2025-03-31.basil and later): a `default_incomplete` subscription's first invoice is finalized
with a PaymentIntent; the invoice has no `payment_intent` field, its `confirmation_secret` and
`payments` are includable (present only when expanded), and it names its subscription under
`parent.subscription_details`. Tests move time on with `pay_invoice`, `renew` and `cancel`,
which return the objects Stripe would put in the matching webhooks.

Saved cards: PaymentMethods (retrieved by id), PaymentIntents that save the card they are paid
with (`customer` + `setup_future_usage`) or are paid with a customer's saved card
(`customer` + `payment_method`), checked as Stripe checks them. `confirm` is the donor's
confirmation in the browser (the card typed, or the saved one).
"""

from __future__ import annotations

import itertools
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


def _nest(flat: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to objects: `items[0][price_data][currency]=usd` →
    {"items": [{"price_data": {"currency": "usd"}}]}, `expand[0]=x` → {"expand": ["x"]}."""
    out: dict[str, Any] = {}
    for name, value in flat:
        head, _, rest = name.partition("[")
        keys = [head] + (rest[:-1].split("][") if rest else [])
        node: Any = out
        for key, following in itertools.pairwise(keys):
            child = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(key)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None:
                    node[index] = child
                node = node[index]
            else:
                node = node.setdefault(key, child)
        last = keys[-1]
        if isinstance(node, list):
            index = int(last)
            while len(node) <= index:
                node.append(None)
            node[index] = value
        else:
            node[last] = value
    return out


def _list(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": False, "data": data}


class FakeStripe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intents: dict[str, dict[str, Any]] = {}  # insertion order = creation order
        self.refunds: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.invoice_payments: dict[str, dict[str, Any]] = {}  # by invoice id
        self.payment_methods: dict[str, dict[str, Any]] = {}  # saved cards (their section)
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

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

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
        changed = self._route_subscription_changes(method, path, params)
        if changed is not None:
            return changed
        monthly = self._route_monthly(method, path, params)
        if monthly is not None:
            return monthly
        saved = self._route_saved_cards(method, path, params)
        if saved is not None:
            return saved
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
        # Blank values kept: Stripe reads `pause_collection=` as "unset it".
        pairs = parse_qsl(body if method == "POST" else split.query, keep_blank_values=True)
        flat = dict(pairs)
        params = _nest(pairs)
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

    # --- monthly gifts: Products, Customers, Subscriptions, Invoices ---

    def _route_monthly(
        self, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, Any] | None:
        expand = list(params.get("expand") or [])
        if method == "POST" and path == "/v1/products":
            product_id = f"prod_fake_{len(self.products) + 1:06d}"
            self.products[product_id] = {
                "id": product_id,
                "object": "product",
                "active": True,
                "name": params.get("name", ""),
                "metadata": params.get("metadata", {}),
                "created": int(time.time()),
                "livemode": False,
            }
            return 200, self.products[product_id]
        if method == "POST" and path == "/v1/customers":
            customer_id = f"cus_fake_{len(self.customers) + 1:06d}"
            self.customers[customer_id] = {
                "id": customer_id,
                "object": "customer",
                "email": params.get("email"),
                "name": params.get("name"),
                "metadata": params.get("metadata", {}),
                "created": int(time.time()),
                "livemode": False,
            }
            return 200, self.customers[customer_id]
        if method == "POST" and path == "/v1/subscriptions":
            return self._create_subscription(params, expand)
        if path.startswith("/v1/subscriptions/"):
            sub = self.subscriptions.get(path.rsplit("/", 1)[1])
            if sub is None:
                return 404, {"type": "invalid_request_error", "message": "No such subscription."}
            if method == "DELETE":
                self._cancel(sub)
            return 200, self._expanded_subscription(sub, expand)
        if method == "GET" and path.startswith("/v1/invoices/"):
            invoice = self.invoices.get(path.rsplit("/", 1)[1])
            if invoice is None:
                return 404, {"type": "invalid_request_error", "message": "No such invoice."}
            return 200, self._expanded_invoice(invoice, expand)
        return None

    def _create_subscription(self, params: dict[str, Any], expand: list[str]) -> tuple[int, Any]:
        customer = self.customers.get(params.get("customer", ""))
        if customer is None:
            return 400, {"type": "invalid_request_error", "message": "No such customer."}
        [item] = params["items"]
        price_data = item["price_data"]
        if price_data.get("product") not in self.products:
            return 400, {"type": "invalid_request_error", "message": "No such product."}
        if price_data.get("recurring", {}).get("interval") not in ("day", "week", "month", "year"):
            return 400, {"type": "invalid_request_error", "message": "Missing recurring[interval]."}
        n = len(self.subscriptions) + 1
        sub_id = f"sub_fake_{n:06d}"
        now = int(time.time())
        price = {
            "id": f"price_fake_{n:06d}",
            "object": "price",
            "active": False,  # price_data makes an archived price
            "currency": price_data["currency"],
            "product": price_data["product"],
            "unit_amount": int(price_data["unit_amount"]),
            "recurring": {"interval": price_data["recurring"]["interval"], "interval_count": 1},
            "type": "recurring",
        }
        sub = {
            "id": sub_id,
            "object": "subscription",
            "customer": customer["id"],
            "status": "incomplete",
            "collection_method": "charge_automatically",
            "currency": price["currency"],
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": params.get("payment_settings", {}).get(
                    "save_default_payment_method", "off"
                ),
            },
            "items": _list(
                f"/v1/subscription_items?subscription={sub_id}",
                [
                    {
                        "id": f"si_fake_{n:06d}",
                        "object": "subscription_item",
                        "price": price,
                        "quantity": 1,
                        "subscription": sub_id,
                        "current_period_start": now,
                        "current_period_end": now + 30 * 86400,
                    }
                ],
            ),
            "latest_invoice": None,
            "created": now,
            "ended_at": None,
            "canceled_at": None,
            "livemode": False,
            "_payment_behavior": params.get("payment_behavior", "allow_incomplete"),
        }
        self.subscriptions[sub_id] = sub
        invoice = self._new_invoice(sub, "subscription_create")
        sub["latest_invoice"] = invoice["id"]
        return 200, self._expanded_subscription(sub, expand)

    def _new_invoice(self, sub: dict[str, Any], billing_reason: str) -> dict[str, Any]:
        """A finalized invoice with its PaymentIntent (the customer's, no metadata: Stripe puts
        none on an invoice's payment)."""
        amount = sub["items"]["data"][0]["price"]["unit_amount"]
        invoice_id = f"in_fake_{len(self.invoices) + 1:06d}"
        intent = self._new_intent(
            {"amount": amount, "currency": sub["currency"], "customer": sub["customer"]}
        )
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": sub["customer"],
            "status": "open",
            "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "amount_due": amount,
            "amount_paid": 0,
            "amount_remaining": amount,
            "currency": sub["currency"],
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "subscription": sub["id"],
                    "metadata": dict(sub["metadata"]),
                },
            },
            "created": int(time.time()),
            "livemode": False,
        }
        self.invoices[invoice_id] = invoice
        self.invoice_payments[invoice_id] = {
            "id": f"inpay_fake_{len(self.invoice_payments) + 1:06d}",
            "object": "invoice_payment",
            "invoice": invoice_id,
            "is_default": True,
            "status": "open",
            "amount_requested": amount,
            "amount_paid": None,
            "currency": sub["currency"],
            "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
            "created": int(time.time()),
            "livemode": False,
        }
        return invoice

    def _expanded_invoice(self, invoice: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        out = dict(invoice)
        if "confirmation_secret" in expand:
            intent_id = self.invoice_payments[invoice["id"]]["payment"]["payment_intent"]
            out["confirmation_secret"] = {
                "type": "payment_intent",
                "client_secret": self.intents[intent_id]["client_secret"],
            }
        if "payments" in expand:
            out["payments"] = _list(
                f"/v1/invoice_payments?invoice={invoice['id']}",
                [dict(self.invoice_payments[invoice["id"]])],
            )
        return out

    def _expanded_subscription(self, sub: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        out = {k: v for k, v in sub.items() if not k.startswith("_")}
        inner = [e.split(".", 1)[1] for e in expand if e.startswith("latest_invoice.")]
        if ("latest_invoice" in expand or inner) and sub["latest_invoice"]:
            out["latest_invoice"] = self._expanded_invoice(
                self.invoices[sub["latest_invoice"]], inner
            )
        return out

    def _cancel(self, sub: dict[str, Any]) -> None:
        sub["status"] = "canceled"
        sub["canceled_at"] = sub["ended_at"] = int(time.time())

    # --- control from tests: what happens at Stripe, and the objects its webhooks carry ---

    def pay_invoice(self, invoice_id: str) -> dict[str, dict[str, Any]]:
        """The donor's (or the month's automatic) payment succeeds. Returns the objects of
        the webhooks Stripe then sends: `invoice` (invoice.paid), `invoice_payment`
        (invoice_payment.paid), `payment_intent` (payment_intent.succeeded), `subscription`
        (customer.subscription.updated)."""
        with self.lock:
            invoice = self.invoices[invoice_id]
            paid_by = self.invoice_payments[invoice_id]
            intent = self.intents[paid_by["payment"]["payment_intent"]]
            intent.update(
                status="succeeded",
                amount_received=intent["amount"],
                latest_charge=f"ch_fake_{intent['id'].rsplit('_', 1)[1]}",
            )
            invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
            paid_by.update(status="paid", amount_paid=invoice["amount_due"])
            sub = self.subscriptions[invoice["parent"]["subscription_details"]["subscription"]]
            if sub["status"] in ("incomplete", "past_due"):
                sub["status"] = "active"
            return {
                "invoice": dict(invoice),
                "invoice_payment": dict(paid_by),
                "payment_intent": dict(intent),
                "subscription": self._expanded_subscription(sub, []),
            }

    def renew(self, subscription_id: str) -> dict[str, dict[str, Any]]:
        """A month passes: the next invoice is created and paid with the saved card."""
        with self.lock:
            sub = self.subscriptions[subscription_id]
            assert sub["status"] == "active", f"a {sub['status']} subscription is not renewed"
            invoice = self._new_invoice(sub, "subscription_cycle")
            sub["latest_invoice"] = invoice["id"]
        return self.pay_invoice(invoice["id"])

    def cancel(self, subscription_id: str) -> dict[str, Any]:
        """The subscription is cancelled: the object of customer.subscription.deleted."""
        with self.lock:
            sub = self.subscriptions[subscription_id]
            self._cancel(sub)
            return self._expanded_subscription(sub, [])

    # --- subscription changes (the donor's self-service): modify and cancel ---------------------
    # `POST /v1/subscriptions/<id>` changes an item's price (`items[0][id]` with `price_data`),
    # pauses collection (`pause_collection[behavior]`) or resumes it (`pause_collection=`), and
    # merges `metadata`; a canceled subscription refuses every change (and a second cancel) as
    # Stripe does. Tests read the result in `subscriptions` and the calls in `requests`.

    PAUSE_BEHAVIORS = ("keep_as_draft", "mark_uncollectible", "void")
    PRORATIONS = ("always_invoice", "create_prorations", "none")

    def _route_subscription_changes(
        self, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, Any] | None:
        if method not in ("POST", "DELETE") or not path.startswith("/v1/subscriptions/"):
            return None
        sub = self.subscriptions.get(path.rsplit("/", 1)[1])
        if sub is None:
            return None
        if sub["status"] == "canceled":
            return 400, {
                "type": "invalid_request_error",
                "message": "A canceled subscription can only update its cancellation_details "
                "and metadata.",
            }
        if method == "DELETE":
            return None  # the monthly section's cancel
        return self._modify_subscription(sub, params)

    def _modify_subscription(self, sub: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        refused = {"type": "invalid_request_error"}
        if params.get("proration_behavior", "none") not in self.PRORATIONS:
            return 400, {**refused, "message": "Invalid proration_behavior."}
        prices = []
        for item in params.get("items") or []:
            current = next((i for i in sub["items"]["data"] if i["id"] == item.get("id")), None)
            price_data = item.get("price_data") or {}
            if current is None:  # Stripe would add an item: a second charge each month
                return 400, {**refused, "message": "This fake changes existing items only."}
            if price_data.get("product") not in self.products:
                return 400, {**refused, "message": "No such product."}
            if price_data.get("recurring", {}).get("interval") != "month":
                return 400, {**refused, "message": "Missing recurring[interval]."}
            prices.append((current, price_data))
        pause = params.get("pause_collection")
        if pause not in (None, "") and pause.get("behavior") not in self.PAUSE_BEHAVIORS:
            return 400, {**refused, "message": "Invalid pause_collection[behavior]."}
        for current, price_data in prices:
            current["price"] = {
                **current["price"],
                "id": f"price_fake_{len(self.requests) + 1:06d}",
                "currency": price_data["currency"],
                "product": price_data["product"],
                "unit_amount": int(price_data["unit_amount"]),
            }
        if pause is not None:
            sub["pause_collection"] = (
                None if pause == "" else {"behavior": pause["behavior"], "resumes_at": None}
            )
        for key, value in (params.get("metadata") or {}).items():
            if value == "":
                sub["metadata"].pop(key, None)
            else:
                sub["metadata"][key] = value
        return 200, self._expanded_subscription(sub, [])

    def subscription_object(self, subscription_id: str) -> dict[str, Any]:
        """The subscription as it is now: the object of a customer.subscription.updated."""
        with self.lock:
            return json.loads(
                json.dumps(self._expanded_subscription(self.subscriptions[subscription_id], []))
            )

    # --- saved cards: PaymentMethods, and PaymentIntents that save a card or pay with one ---

    def _route_saved_cards(
        self, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, Any] | None:
        if method == "GET" and path.startswith("/v1/payment_methods/"):
            found = self.payment_methods.get(path.rsplit("/", 1)[1])
            if found is None:
                return 404, {"type": "invalid_request_error", "message": "No such PaymentMethod."}
            return 200, found
        saving = {"customer", "payment_method", "setup_future_usage"} & set(params)
        if method == "POST" and path == "/v1/payment_intents" and saving:
            customer = params.get("customer")
            if customer is not None and customer not in self.customers:
                return 400, {"type": "invalid_request_error", "message": "No such customer."}
            if params.get("setup_future_usage") not in (None, "on_session", "off_session"):
                return 400, {"type": "invalid_request_error", "message": "Invalid usage."}
            if "payment_method" in params:
                card = self.payment_methods.get(params["payment_method"])
                if card is None or card["customer"] != customer:
                    return 400, {
                        "type": "invalid_request_error",
                        "message": "The PaymentMethod does not belong to the Customer.",
                    }
            fields = {k: v for k, v in params.items() if k != "automatic_payment_methods"}
            return 200, self._new_intent(fields)
        return None

    def add_card(
        self,
        *,
        customer: str | None = None,
        brand: str = "visa",
        last4: str = "4242",
        exp_month: int = 12,
        exp_year: int = 2034,
        type_: str = "card",
    ) -> dict[str, Any]:
        """A PaymentMethod, as the Payment Element creates one from what the donor typed
        (attached to `customer` when given)."""
        with self.lock:
            return self._new_card(customer, brand, last4, exp_month, exp_year, type_)

    def _new_card(
        self,
        customer: str | None,
        brand: str,
        last4: str,
        exp_month: int,
        exp_year: int,
        type_: str,
    ) -> dict[str, Any]:
        pm_id = f"pm_fake_{len(self.payment_methods) + 1:06d}"
        card = {"brand": brand, "last4": last4, "exp_month": exp_month, "exp_year": exp_year}
        self.payment_methods[pm_id] = {
            "id": pm_id,
            "object": "payment_method",
            "type": type_,
            "customer": customer,
            "card": card if type_ == "card" else None,
            "created": int(time.time()),
            "livemode": False,
        }
        return self.payment_methods[pm_id]

    def confirm(self, intent_id: str, *, last4: str = "4242") -> dict[str, Any]:
        """The donor confirms the payment in the browser and it succeeds: paid with the
        intent's saved card, or with a new card (last digits `last4`) that is attached to the
        intent's customer when the intent saves it. Returns the PaymentIntent as
        payment_intent.succeeded carries it."""
        with self.lock:
            intent = self.intents[intent_id]
            pm_id = intent.get("payment_method")
            if not pm_id:
                saves = intent.get("setup_future_usage") and intent.get("customer")
                card = self._new_card(
                    intent.get("customer") if saves else None, "visa", last4, 12, 2034, "card"
                )
                pm_id = card["id"]
            intent.update(
                status="succeeded",
                amount_received=intent["amount"],
                payment_method=pm_id,
                latest_charge=f"ch_fake_{intent_id.rsplit('_', 1)[1]}",
            )
            return dict(intent)
