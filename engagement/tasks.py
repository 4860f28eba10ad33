"""Celery tasks: they only call the services."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from engagement import reactions


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def snapshot_reactions() -> int:
    """Beat, hourly: the reactions of shows that ended lately copied from Redis (two days)
    into the database, for the report."""
    return reactions.snapshot_ended_shows(now=timezone.now())
