"""The night survives its database: a web process on a PostgreSQL of the test's own, restarted
(fast: every connection cut) with a viewer connected. Gifts given after the restart reach the
viewer's socket and tally.json within 5 s of the database's return, with no manual command:
the pool and the hub's database calls replace the dropped connections by themselves."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from websockets.asyncio.client import connect

from tests import support
from tests.donations.support import start_body
from tests.support.liveroom import snapshot_where
from tests.support.processes import (
    Postgres,
    PrivateRedis,
    Server,
    prepare_database,
    start_postgres,
    start_server,
)

pytestmark = pytest.mark.serial  # deadlines and bursts: run alone (Makefile)

SETUP = """
import json
from events.models import EventStatus
from tests.factories import EventFactory
event = EventFactory(status=EventStatus.LIVE)
print(json.dumps({"slug": event.slug, "event_id": event.pk}))
"""


@dataclass
class Site:
    postgres: Postgres
    server: Server
    slug: str
    event_id: int


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    postgres = start_postgres(max_connections=40)
    redis_server = PrivateRedis(port=support.free_port())
    redis_server.start()
    try:
        overrides = {
            "DATABASE_URL": postgres.url("postgres"),
            "REDIS_URL": redis_server.url,
            "ALLOW_SIMULATED_PAYMENTS": "1",
            "SECURE_COOKIES": "0",
            "MEDIA_ROOT": str(tmp_path / "media"),
        }
        facts = prepare_database(overrides, SETUP)
        server = start_server(env=overrides)
        try:
            yield Site(postgres=postgres, server=server, **facts)
        finally:
            server.stop()
    finally:
        redis_server.stop()
        postgres.stop()


def give(server: Server, slug: str, event_id: int, amount_minor: int) -> None:
    """A simulated gift through the donate panel's two calls; retried while the database is
    coming back (503), so the gift lands once the site answers."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def post(path: str, body: dict) -> tuple[int, dict]:
        csrf = next((c.value for c in jar if c.name == "csrftoken"), "")
        request = urllib.request.Request(  # noqa: S310 (a loopback URL we built)
            server.url(path),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": csrf},
        )
        try:
            with opener.open(request, timeout=20) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as refused:
            return refused.code, {}

    def attempt() -> bool:
        try:  # the page gives the CSRF cookie
            opener.open(server.url(f"/events/{slug}/"), timeout=20).read()
        except (urllib.error.URLError, OSError):
            return False
        status, started = post(
            f"/donations/events/{slug}/start/",
            start_body(event_id=event_id, attempt_key=key, amount_minor=amount_minor),
        )
        if status != 200:
            return False
        status, _ = post(
            "/donations/simulated/confirm/",
            {"donation_id": started["donation_id"], "client_secret": started["client_secret"]},
        )
        return status == 200

    key = str(uuid.uuid4())
    support.wait_for(attempt, 20, interval=0.2, what=f"a gift of {amount_minor} accepted")


def tally(server: Server, slug: str) -> int | None:
    try:
        with urllib.request.urlopen(server.url(f"/events/{slug}/tally.json"), timeout=10) as r:  # noqa: S310
            return int(json.load(r)["raised"])
    except (urllib.error.URLError, OSError, KeyError, ValueError):
        return None


def test_a_database_restart_under_a_viewer_loses_no_gift_and_the_tally_converges(site):
    async def scenario() -> tuple[dict, float]:
        async with connect(
            site.server.ws_url(site.slug), origin=site.server.origin, open_timeout=10
        ) as ws:
            await asyncio.to_thread(give, site.server, site.slug, site.event_id, 2_500)
            await snapshot_where(ws, lambda s: s["raised"] == 2_500, timeout=10)

            await asyncio.to_thread(site.postgres.restart)
            # The gift waits (503s) until the pool has connections again; then the ledger has
            # it, and the viewer must see it within 5 s.
            await asyncio.to_thread(give, site.server, site.slug, site.event_id, 4_000)
            given = time.monotonic()
            seen = await snapshot_where(ws, lambda s: s["raised"] == 6_500, timeout=10)
            return seen, time.monotonic() - given

    seen, took = asyncio.run(scenario())
    assert seen["raised"] == 6_500
    support.wait_for(lambda: tally(site.server, site.slug) == 6_500, 5, what="tally.json")
    assert took < 5
