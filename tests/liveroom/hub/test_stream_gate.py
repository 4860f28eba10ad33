"""stream.json hands a signed live URL only to a browser the live room admitted and still
holds a seat for: the capacity gate holds on the server, not only in the player."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from django.utils import timezone
from websockets.asyncio.client import connect

from events.models import CapacityTier, EventStatus
from liveroom import attendees
from streaming import services
from streaming.models import Stream
from tests.factories import EventFactory
from tests.support import wait_for


def signed_live_event(seats: int):
    tier = CapacityTier.objects.create(name=f"{seats} seats", max_attendees=seats)
    event = EventFactory(status=EventStatus.LIVE, capacity_tier=tier)
    stream, _ = services.create_stream(event_id=event.pk)
    now = timezone.now()
    Stream.objects.filter(pk=stream.pk).update(
        state="live", live_at=now, last_segment_at=now, signed_playback=True
    )
    return event, stream


def page_cookie(server, slug) -> str:
    with urllib.request.urlopen(server.url(f"/events/{slug}/"), timeout=10) as response:  # noqa: S310
        for header in response.headers.get_all("Set-Cookie"):
            if header.startswith(attendees.COOKIE + "="):
                return header.split(";", 1)[0]
    raise AssertionError("no attendee cookie")


def stream_json(server, slug, cookie) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 (a loopback URL we built)
        server.url(f"/events/{slug}/stream.json"), headers={"Cookie": cookie}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_only_an_admitted_browser_gets_the_signed_url_and_loses_it_when_it_leaves(
    web_processes,
):
    event, stream = signed_live_event(1)
    first, second = web_processes
    inside, outside = page_cookie(first, event.slug), page_cookie(first, event.slug)

    async def scenario():
        before = stream_json(second, event.slug, inside)
        ws = await connect(
            first.ws_url(event.slug), origin=first.origin, additional_headers={"Cookie": inside}
        )
        await asyncio.wait_for(ws.recv(), 10)  # admitted: its snapshot came
        admitted = stream_json(second, event.slug, inside)  # asked of another process
        refused = stream_json(second, event.slug, outside)  # the event is full for this one
        await ws.close()
        gone = await asyncio.to_thread(
            wait_for,
            lambda: stream_json(second, event.slug, inside)[0] == 403,
            10,
            what="the seat given back",
        )
        return before, admitted, refused, gone

    before, admitted, refused, gone = asyncio.run(scenario())
    assert before[0] == 403
    assert before[1]["master_url"] is None
    assert admitted[0] == 200
    assert f"/live/{stream.public_id}/master.m3u8" in admitted[1]["master_url"]
    assert admitted[1]["master_url"].startswith("/s/")
    assert refused[0] == 403
    assert refused[1]["master_url"] is None
    assert gone is True
