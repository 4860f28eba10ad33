"""`manage.py stream_worker`: the streaming worker loop without Celery (development, tests,
or a small deployment): the health sweep and relay polling every half target duration."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from streaming import relay, show

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Sweep stream health and poll relay upstreams every half target duration."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=settings.HLS_TARGET_DURATION / 2)
        parser.add_argument("--once", action="store_true", help="One round, then exit.")

    def handle(self, *args: Any, interval: float, once: bool, **options: Any) -> None:
        while True:
            started = time.monotonic()
            close_old_connections()
            try:
                show.sweep()
                relay.poll_relays()
            except Exception:
                # One bad round (database restarting) must not stop the loop.
                log.exception("stream worker round failed")
            if once:
                return
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
