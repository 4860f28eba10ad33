"""Celery tasks of the events app: each takes ids, calls one service, and is enqueued only on
commit (by the service), or run by beat (config/settings.py CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from events import capacity_mail, confirmations


@shared_task(  # type: ignore[untyped-decorator]
    bind=True, max_retries=5, default_retry_delay=60, ignore_result=True, acks_late=True
)
def send_registration_confirmation(self, registration_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        confirmations.send_registration_confirmation(registration_id=registration_id)
    except Exception as exc:  # the claim was released: a retry sends it once
        raise self.retry(exc=exc) from exc


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def send_pending_confirmations() -> int:
    return confirmations.send_pending_confirmations()


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def send_capacity_notices() -> int:
    return capacity_mail.send_due_notices()
