"""`manage.py stream_worker`: the streaming worker loop (development, tests, or a small
deployment): every half target duration, the sweep (stalls, ends, retention) and relay
polling, which beat's tasks can do instead, and the green room's health figures of receiving
streams (ffprobe, streaming/health.py), which only this loop measures; and, in a thread of its
own, speech recognition of streams with automatic captions (streaming/captions/captioner.py).
It needs the media storage on its own disk."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from events import heartbeats
from streaming import health, relay, show
from streaming.captions.captioner import Captioner

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Sweep streams, poll relay upstreams and measure receiving streams' health every "
        "half target duration."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=settings.HLS_TARGET_DURATION / 2)
        parser.add_argument("--once", action="store_true", help="One round, then exit.")

    def handle(self, *args: Any, interval: float, once: bool, **options: Any) -> None:
        rounds = health.HealthRounds()
        if not once:
            heartbeats.start(role="stream_worker")
        if not once and settings.CAPTIONS_ENGINE != "off":
            # Speech recognition of streams with automatic captions, beside the rounds.
            Captioner().start()
        while True:
            started = time.monotonic()
            close_old_connections()
            try:
                show.sweep()
                relay.poll_relays()
            except Exception:
                # One bad round (database restarting) must not stop the loop.
                log.exception("stream worker round failed")
            try:
                # ffprobe takes tens of milliseconds a stream: at most half a round of it.
                rounds.run(budget_s=interval / 2)
            except Exception:
                log.exception("stream health round failed")
            if once:
                return
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
