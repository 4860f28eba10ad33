"""Celery tasks (beat runs both every half target duration): they only call the services."""

from __future__ import annotations

from celery import shared_task

from streaming import relay, show


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def sweep_streams() -> dict[str, int]:
    """Reconnecting and stalled streams, streams whose event is over, expired segments, and
    the show's automatic go-live and end."""
    return show.sweep()


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def poll_relays() -> int:
    """One poll of every relay stream's upstream."""
    return relay.poll_relays()
