"""Celery tasks: each takes ids, calls one service, and is enqueued only on commit."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from donations import services, webhooks
from donations.providers import get_provider

# Reconciliation looks this far back (Stripe retries webhooks for up to three days).
RECONCILE_WINDOW = timedelta(days=3)


@shared_task(  # type: ignore[untyped-decorator]
    bind=True, max_retries=5, default_retry_delay=60, ignore_result=True, acks_late=True
)
def send_receipt_task(self, donation_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        services.send_receipt(donation_id=donation_id)
    except Exception as exc:  # the claim was released: a retry sends it once
        raise self.retry(exc=exc) from exc


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def send_pending_receipts() -> int:
    return services.send_pending_receipts()


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def reconcile_payments() -> int:
    provider = get_provider()
    if provider is None:
        return 0
    return webhooks.reconcile_payments(provider=provider, since=timezone.now() - RECONCILE_WINDOW)


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def apply_unapplied_events() -> int:
    return webhooks.apply_unapplied_events()
