"""The web process's launcher (config/serve.py): client addresses from X-Forwarded-For only
for the proxies TRUSTED_PROXIES names, so a per-address limit cannot be dodged."""

from __future__ import annotations

import asyncio

import pytest
from django.core.exceptions import ImproperlyConfigured
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from config.serve import uvicorn_options
from events.models import CapacityTier, EventStatus
from tests.factories import EventFactory
from tests.support.processes import start_server


def test_without_trusted_proxies_no_header_is_believed(monkeypatch):
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    options = uvicorn_options(host="127.0.0.1", port=8000)
    assert options["proxy_headers"] is False


def test_trusted_proxies_are_the_only_ones_whose_header_counts(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8")
    options = uvicorn_options(host="127.0.0.1", port=8000)
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == "127.0.0.1/32,10.0.0.0/8"


def test_a_malformed_trusted_proxy_stops_the_process(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1/8")
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        uvicorn_options(host="127.0.0.1", port=8000)


def test_invented_forwarded_addresses_do_not_dodge_a_per_address_cap(transactional_db, live_redis):
    # No trusted proxy: a client on loopback inventing a new X-Forwarded-For for every socket
    # is still one address, held to a quarter of a 12-seat room.
    tier = CapacityTier.objects.create(name="twelve", max_attendees=12)
    event = EventFactory(status=EventStatus.LIVE, capacity_tier=tier)
    server = start_server(env={"LIVE_SEATS_PER_ADDRESS_PERCENT": "25"})

    async def scenario():
        outcomes = []
        for i in range(8):
            ws = await connect(
                server.ws_url(event.slug),
                origin=server.origin,
                additional_headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            try:
                await asyncio.wait_for(ws.recv(), 10)
                outcomes.append("in")
            except ConnectionClosed as closed:
                outcomes.append(closed.rcvd.code if closed.rcvd else None)
        return outcomes

    try:
        outcomes = asyncio.run(scenario())
    finally:
        server.stop()
    assert outcomes == ["in"] * 3 + [4430] * 5
