"""The money rules' Celery tasks: each takes ids and calls one service. Registered with the
worker through donations.tasks, under its names."""

from __future__ import annotations

from celery import shared_task

from donations.compliance import besteffort, stops


@shared_task(  # type: ignore[untyped-decorator]
    name="donations.tasks.run_monthly_stop",
    bind=True,
    max_retries=5,
    default_retry_delay=60,
    ignore_result=True,
    acks_late=True,
)
def run_monthly_stop(self, stop_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        stops.run_stop(stop_id=stop_id)
    except Exception as exc:  # what is done stays done: a retry does the rest
        raise self.retry(exc=exc) from exc


@shared_task(name="donations.tasks.run_due_monthly_stops", ignore_result=True)  # type: ignore[untyped-decorator]
def run_due_monthly_stops() -> int:
    return stops.run_due_stops()


@shared_task(name="donations.tasks.send_best_efforts_requests", ignore_result=True)  # type: ignore[untyped-decorator]
def send_best_efforts_requests() -> int:
    return besteffort.sweep()
