"""Viewer samples for the staff dashboard's chart: one row per event per slot for the whole
deployment. At its presence report, each process with sockets for an event claims the current
LIVE_VIEWER_SAMPLE_SECONDS slot of that event (Redis `SET NX`); the one winner records the
deployment-wide count. The claim and the write run in a task of their own: a slow database
must not delay the presence reports, whose expiry admission depends on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from redis import asyncio as aioredis

from events import livebus
from events import services as event_services
from liveroom.dbcalls import in_db_thread

log = logging.getLogger(__name__)


class ViewerSampler:
    def __init__(
        self,
        *,
        interval_s: float,
        redis: aioredis.Redis | None,
        spawn: Callable[[Coroutine[Any, Any, object]], None],
    ) -> None:
        self.interval_s = interval_s
        self.redis = redis  # None in embedded mode: this process is the deployment
        self._spawn = spawn
        self._tried: dict[int, int] = {}  # event id → the last slot this process tried

    def offer(self, event_id: int, viewers: int) -> None:
        """Record `viewers` for the event unless this slot was claimed already (by this process
        or another)."""
        now = time.time()
        slot = int(now // self.interval_s)
        if self._tried.get(event_id) == slot:
            return  # tried this slot already (a presence tick comes every third of the TTL)
        self._tried[event_id] = slot

        async def claim_and_record() -> None:
            try:
                if await self._claim(event_id, slot):
                    at = datetime.fromtimestamp(now, tz=UTC)
                    await in_db_thread(
                        event_services.record_viewer_sample,
                        event_id=event_id,
                        at=at,
                        viewers=viewers,
                    )
            except Exception:
                log.exception("viewer sample not recorded", extra={"event_id": event_id})

        self._spawn(claim_and_record())

    def forget(self, event_id: int) -> None:
        self._tried.pop(event_id, None)

    async def _claim(self, event_id: int, slot: int) -> bool:
        """True for the one process of the deployment that may write this slot's sample."""
        if self.redis is None:
            return True
        ttl_ms = round(self.interval_s * 2000) + 1000
        won = await self.redis.set(
            livebus.key(event_id, f"sample:{slot}"), b"1", nx=True, px=ttl_ms
        )
        return bool(won)
