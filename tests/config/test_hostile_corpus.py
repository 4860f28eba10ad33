"""A corpus of hostile requests against a real web process: each gets a clear 4xx with a
sentence, nothing is stored, and the server's log holds no traceback afterwards."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from donations.models import Donation
from events.models import EventStatus, Registration
from tests.donations.support import start_payload
from tests.factories import CampaignFactory, EventFactory
from tests.support.processes import Server, start_server

ATTEMPT_KEY = "7f0c4c8e-0d7b-4f43-9d0c-2a3d2f6f1a10"  # each request gets its own (see below)
SURROGATE = "\\ud800"  # a lone surrogate, as JSON spells it
TEXT_FIELDS = ["email", "first_name", "last_name", "display_name", "message", "refcode"]


@pytest.fixture(scope="module")
def logged_server(django_db_setup, live_redis, tmp_path_factory) -> Iterator[tuple[Server, Path]]:
    log = tmp_path_factory.mktemp("corpus") / "web.log"
    server = start_server(
        env={"ALLOW_SIMULATED_PAYMENTS": "1", "SECURE_COOKIES": "0", "LOG_LEVEL": "INFO"},
        log_file=log,
    )
    yield server, log
    server.stop()


@pytest.fixture(autouse=True)
def _committed(transactional_db) -> None:
    """The web process reads committed rows."""


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to report, not to follow."""

    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Cookies and the CSRF token, as the event page gives them."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirects()
        )

    def csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(  # noqa: S310 (a loopback URL we built)
            self.server.url(path),
            data=body,
            method=method,
            headers={"X-CSRFToken": self.csrf(), "Referer": self.server.origin, **(headers or {})},
        )
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as refused:
            return refused.code, dict(refused.headers), refused.read()


def start_bodies(event) -> Iterator[tuple[str, bytes, str]]:
    """(what, body, content type) of hostile donation starts."""
    base = start_payload(event, attempt_key=ATTEMPT_KEY)
    text = json.dumps(base)
    for field in TEXT_FIELDS:
        spliced = json.dumps({**base, field: "x"}).replace('"x"', f'"a{SURROGATE}b"')
        yield f"surrogate in {field}", spliced.encode(), "application/json"
        yield f"NUL in {field}", json.dumps({**base, field: "a\x00b"}).encode(), "application/json"
        yield (
            f"huge {field}",
            json.dumps({**base, field: "x" * 100_000}).encode(),
            "application/json",
        )
    yield "deep JSON", ("[" * 100_000 + "]" * 100_000).encode(), "application/json"
    yield "deep object", ('{"a":' * 50_000 + "1" + "}" * 50_000).encode(), "application/json"
    yield "3 MB body", json.dumps({**base, "message": "x" * 3_000_000}).encode(), "application/json"
    yield "not JSON", b"{not json", "application/json"
    yield "a list", b"[1, 2, 3]", "application/json"
    yield "not UTF-8", b'{"email": "\xff\xfe"}', "application/json"
    yield "form-encoded", b"amount_minor=2500", "application/x-www-form-urlencoded"
    for amount in ["lots", 25.5, -100, 0, 10**30, True, None, [], {}]:
        yield (
            f"amount {amount!r}",
            json.dumps({**base, "amount_minor": amount}).encode(),
            ("application/json"),
        )
    for currency in ["xxx", "", "USD\x00", 5]:
        yield (
            f"currency {currency!r}",
            json.dumps({**base, "currency": currency}).encode(),
            ("application/json"),
        )
    yield "no page token", json.dumps({**base, "page_token": ""}).encode(), "application/json"
    yield "forged token", json.dumps({**base, "page_token": "e30:1:x"}).encode(), "application/json"
    yield (
        "attestations not a list",
        json.dumps({**base, "attestations": "yes"}).encode(),
        ("application/json"),
    )
    yield (
        "email header injection",
        json.dumps({**base, "email": "a@example.com\r\nBcc: victim@example.org"}).encode(),
        "application/json",
    )
    assert text  # the valid base is valid JSON


def returning_bodies(event) -> Iterator[tuple[str, str, bytes]]:
    """(what, path, body) of hostile requests of returning donors: codes and one-tap gifts."""
    emails = [json.dumps(e) for e in ["a\x00@example.com", "x" * 5_000, 5, None]]
    emails.append(f'"a{SURROGATE}@example.com"')  # a lone surrogate, as JSON spells it
    for email in emails:
        yield f"code for {email[:20]}", "/donations/saved/code/", f'{{"email": {email}}}'.encode()
    for code in [
        "12345",
        "1234567",
        "12 34 5x",
        123456,
        [1],
        None,
        "\uff11\uff12\uff13\uff14\uff15\uff16",
    ]:
        body = json.dumps({"email": "ada@example.org", "code": code})
        yield f"code {code!r}", "/donations/saved/code/check/", body.encode()
    yield (
        "header injection",
        "/donations/saved/code/",
        json.dumps({"email": "a@example.com\r\nBcc: victim@example.org"}).encode(),
    )
    yield "a list", "/donations/saved/code/", b"[1]"
    one_tap = f"/donations/one-tap/{event.slug}/"
    base = {k: v for k, v in start_payload(event).items() if k != "email"}
    yield "one tap without a saved card", one_tap, json.dumps(base).encode()
    yield "one tap amount 25.5", one_tap, json.dumps({**base, "amount_minor": 25.5}).encode()
    yield "one tap not JSON", one_tap, b"{not json"


def test_hostile_requests_get_clear_4xx_store_nothing_and_log_no_traceback(logged_server):
    server, log = logged_server
    campaign = CampaignFactory()
    event = EventFactory(campaign=campaign, status=EventStatus.LIVE)
    town_hall = EventFactory(
        campaign=campaign, status=EventStatus.SCHEDULED, registration_required=True
    )
    browser = Browser(server)
    assert browser.request("GET", f"/events/{event.slug}/")[0] == 200
    answers: list[tuple[str, int, bytes]] = []

    for what, body, kind in start_bodies(event):
        # A new attempt key each time: a known key would answer with its first result.
        body = body.replace(ATTEMPT_KEY.encode(), str(uuid.uuid4()).encode())
        status, _, content = browser.request(
            "POST", f"/donations/events/{event.slug}/start/", body, {"Content-Type": kind}
        )
        answers.append((what, status, content))

    for what, path, body in returning_bodies(event):
        status, _, content = browser.request(
            "POST", path, body, {"Content-Type": "application/json"}
        )
        answers.append((what, status, content))

    for what, name, email in [
        ("NUL name", "Ada\x00", "ada@example.org"),
        ("long name", "A" * 5_000, "ada@example.org"),
        ("header injection", "Ada", "ada@example.org\r\nBcc: victim@example.org"),
        ("not an email", "Ada", "not-an-email"),
    ]:
        form = urllib.parse.urlencode({"name": name, "email": email})
        status, _, content = browser.request(
            "POST",
            f"/events/{town_hall.slug}/register",
            form.encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        answers.append((what, status, content))

    for what, method, path in [
        ("unknown event", "GET", "/events/no-such-event/stream.json"),
        ("NUL in a slug", "GET", "/events/%00/tally.json"),
        ("long slug", "GET", "/events/" + "a" * 5_000 + "/"),
        ("PUT a page", "PUT", f"/events/{event.slug}/"),
        ("DELETE the tally", "DELETE", f"/events/{event.slug}/tally.json"),
        ("GET the start", "GET", f"/donations/events/{event.slug}/start/"),
        ("unknown donation event", "POST", "/donations/events/nope/start/"),
        ("traversal", "GET", "/live/..%2f..%2fetc/passwd"),
    ]:
        status, _, content = browser.request(method, path, b"" if method != "GET" else None)
        answers.append((what, status, content))

    async def sockets() -> list[tuple[str, int | None]]:
        found = []
        for path in ["/ws/nope/", "/ws/%00%ff/", "/ws/events/no-such-event/"]:
            try:
                async with connect(
                    f"ws://127.0.0.1:{server.port}{path}", origin=server.origin
                ) as ws:
                    await asyncio.wait_for(ws.recv(), 10)
                    found.append((path, None))
            except ConnectionClosed as closed:
                found.append((path, closed.rcvd.code if closed.rcvd else None))
            except InvalidStatus as refused:
                found.append((path, refused.response.status_code))
        return found

    for path, code in asyncio.run(sockets()):
        assert code == 4404, (path, code)

    failures = [(what, status) for what, status, _ in answers if not 400 <= status < 500]
    assert failures == []
    # Each answer is a sentence (JSON's "error", or a page), not an empty body.
    assert all(content.strip() for _, _, content in answers)
    assert Donation.objects.count() == 0
    assert Registration.objects.count() == 0
    assert "Traceback" not in log.read_text()
