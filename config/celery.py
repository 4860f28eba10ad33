"""The Celery app: `celery -A config worker` and `celery -A config beat`."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import beat_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("pledgecast")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# /healthz lists the worker and beat processes alive (events/heartbeats.py).
def _worker_heartbeat(**_: object) -> None:
    from events import heartbeats

    heartbeats.start(role="worker")


def _beat_heartbeat(**_: object) -> None:
    from events import heartbeats

    heartbeats.start(role="beat")


worker_ready.connect(_worker_heartbeat, weak=False)
beat_init.connect(_beat_heartbeat, weak=False)
