"""Celery tasks: each takes ids, calls one service, and is enqueued only on commit. The
receipt tasks live in donations.receipt_tasks (the ledger enqueues them) and are registered
from here."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from donations.compliance.tasks import (
    run_due_monthly_stops,
    run_monthly_stop,
    send_best_efforts_requests,
)
from donations.providers import get_provider
from donations.receipt_tasks import send_pending_receipts, send_receipt_task
from donations.webhooks import apply, reconcile

__all__ = [
    "apply_unapplied_events",
    "reconcile_payments",
    "run_due_monthly_stops",
    "run_monthly_stop",
    "send_best_efforts_requests",
    "send_pending_receipts",
    "send_receipt_task",
]

# Reconciliation looks this far back (Stripe retries webhooks for up to three days).
RECONCILE_WINDOW = timedelta(days=3)


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def reconcile_payments() -> int:
    provider = get_provider()
    if provider is None:
        return 0
    return reconcile.reconcile_payments(provider=provider, since=timezone.now() - RECONCILE_WINDOW)


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def apply_unapplied_events() -> int:
    return apply.apply_unapplied_events()
