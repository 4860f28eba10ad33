"""Per-client seat caps: one browser, or one address, cannot take an event's capacity, across
web processes; seats come back when sockets close or their process dies."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from events.models import CapacityTier, EventStatus
from liveroom import attendees
from tests.factories import EventFactory
from tests.support.processes import Server, start_server

CAPPED = {
    "LIVE_SEATS_PER_ATTENDEE": "3",
    "LIVE_SEATS_PER_ADDRESS_PERCENT": "25",
    # The tests play nginx on loopback: the client's address comes from X-Forwarded-For
    # for this trusted proxy only (config/serve.py).
    "TRUSTED_PROXIES": "127.0.0.1/32",
}


@pytest.fixture(scope="module")
def capped_processes(django_db_setup, live_redis) -> Iterator[list[Server]]:
    servers = [start_server(env=CAPPED), start_server(env=CAPPED)]
    yield servers
    for server in servers:
        server.stop()


def tiny_event(seats: int):
    tier = CapacityTier.objects.create(name=f"{seats} seats", max_attendees=seats)
    return EventFactory(status=EventStatus.LIVE, capacity_tier=tier)


def attendee_cookie(server: Server, slug: str) -> str:
    """The cookie a browser gets from the event page."""
    with urllib.request.urlopen(server.url(f"/events/{slug}/"), timeout=10) as response:  # noqa: S310
        for header in response.headers.get_all("Set-Cookie"):
            if header.startswith(attendees.COOKIE + "="):
                return header.split(";", 1)[0]
    raise AssertionError("the event page set no attendee cookie")


async def attempt(server: Server, slug: str, *, address: str, cookie: str | None = None):
    """('in', socket) when admitted, ('out', close code) when refused."""
    headers = {"X-Forwarded-For": address}
    if cookie:
        headers["Cookie"] = cookie
    ws = await connect(
        server.ws_url(slug), origin=server.origin, additional_headers=headers, open_timeout=10
    )
    try:
        await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as closed:
        return "out", closed.rcvd.code if closed.rcvd else None
    return "in", ws


def test_one_address_cannot_take_every_seat_and_the_next_attendee_gets_in(capped_processes):
    event = tiny_event(12)
    first, second = capped_processes

    async def scenario():
        greedy = [
            await attempt((first, second)[i % 2], event.slug, address="198.51.100.7")
            for i in range(12)
        ]
        neighbour = await attempt(first, event.slug, address="203.0.113.9")
        outcome = Counter(kind if kind == "in" else value for kind, value in greedy)
        for kind, ws in [*greedy, neighbour]:
            if kind == "in":
                await ws.close()
        return outcome, neighbour[0]

    outcome, neighbour = asyncio.run(scenario())
    # A quarter of the capacity for one address, across both processes; the rest refused
    # with the client-cap code (not "event is full"), and another address still gets in.
    assert outcome == {"in": 3, 4430: 9}
    assert neighbour == "in"


def test_one_browser_holds_at_most_three_seats_and_another_behind_the_same_address_gets_in(
    capped_processes,
):
    event = tiny_event(40)  # an address may hold 10
    first, second = capped_processes
    mine = attendee_cookie(first, event.slug)
    theirs = attendee_cookie(second, event.slug)
    assert mine != theirs

    async def scenario():
        tabs = [
            await attempt((first, second)[i % 2], event.slug, address="192.0.2.1", cookie=mine)
            for i in range(5)
        ]
        other = await attempt(second, event.slug, address="192.0.2.1", cookie=theirs)
        outcome = Counter(kind if kind == "in" else value for kind, value in tabs)
        # A closed tab gives its seat back: the browser may open another.
        await next(ws for kind, ws in tabs if kind == "in").close()
        again = await wait_admitted(first, event.slug, address="192.0.2.1", cookie=mine)
        for kind, ws in [*tabs, other, again]:
            if kind == "in":
                await ws.close()
        return outcome, other[0], again[0]

    outcome, other, again = asyncio.run(scenario())
    assert outcome == {"in": 3, 4430: 2}
    assert other == "in"
    assert again == "in"


def test_a_forged_attendee_cookie_counts_as_no_cookie(capped_processes):
    event = tiny_event(40)
    first, _ = capped_processes
    forged = f"{attendees.COOKIE}=someone-else:not-our-signature"

    async def scenario():
        tabs = [
            await attempt(first, event.slug, address="192.0.2.50", cookie=forged) for _ in range(5)
        ]
        for kind, ws in tabs:
            if kind == "in":
                await ws.close()
        return Counter(kind for kind, _ in tabs)

    # Only the address cap (10) applies: five sockets all get in.
    assert asyncio.run(scenario()) == {"in": 5}


def test_the_seats_of_a_killed_web_process_come_back(capped_processes):
    event = tiny_event(12)  # three per address
    doomed = start_server(env=CAPPED)
    try:

        async def scenario():
            held = [await attempt(doomed, event.slug, address="198.51.100.99") for _ in range(3)]
            assert [kind for kind, _ in held] == ["in"] * 3
            refused = await attempt(capped_processes[0], event.slug, address="198.51.100.99")
            doomed.kill()  # no goodbye: its presence key expires, and its seats with it
            started = time.monotonic()
            back = await wait_admitted(
                capped_processes[0], event.slug, address="198.51.100.99", timeout=20
            )
            await back[1].close()
            return refused, back[0], time.monotonic() - started

        refused, back, took = asyncio.run(scenario())
    finally:
        doomed.stop()
    assert refused == ("out", 4430)
    assert back == "in"
    assert took < 20


async def wait_admitted(server, slug, *, address, cookie=None, timeout=10.0):
    """Try until admitted (a seat given back is released in the background), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        kind, value = await attempt(server, slug, address=address, cookie=cookie)
        if kind == "in":
            return kind, value
        if time.monotonic() > deadline:
            raise AssertionError(f"not admitted before the deadline (last close code {value})")
        await asyncio.sleep(0.2)
