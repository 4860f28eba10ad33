"""`manage.py transcoder`: the transcoder supervisor (streaming/transcoder.py). Run one beside
each nginx-rtmp (deploy/nginx/rtmp.conf); it runs one ffmpeg per stream being published."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand

from events import heartbeats
from streaming.transcoder import Supervisor


class Command(BaseCommand):
    help = "Run one supervised ffmpeg per RTMP stream being published (Ctrl-C stops them)."

    def handle(self, *args: Any, **options: Any) -> None:
        supervisor = Supervisor()
        heartbeats.start(role="transcoder")
        signal.signal(signal.SIGTERM, lambda *_: supervisor.stopping.set())
        try:
            supervisor.run()
        except KeyboardInterrupt:
            supervisor.stopping.set()
