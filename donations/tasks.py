"""Celery tasks: each takes ids, calls one service, and is enqueued only on commit. The
receipt tasks live in donations.receipt_tasks (the ledger enqueues them) and the self-service
link's in donations.selfservice.tasks; both are registered from here."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from donations import donor_code_mail, treasurer
from donations.compliance import digest, queue
from donations.compliance.tasks import (
    run_due_monthly_stops,
    run_monthly_stop,
    send_best_efforts_requests,
)
from donations.providers import get_provider
from donations.receipt_tasks import send_pending_receipts, send_receipt_task
from donations.selfservice.tasks import send_link_email_task, send_pending_link_emails
from donations.webhooks import apply, reconcile

__all__ = [
    "apply_unapplied_events",
    "mail_treasurer_digests",
    "reconcile_payments",
    "run_due_monthly_stops",
    "run_monthly_stop",
    "send_best_efforts_requests",
    "send_donor_code_task",
    "send_link_email_task",
    "send_pending_donor_codes",
    "send_pending_link_emails",
    "send_pending_receipts",
    "send_receipt_task",
    "sweep_compliance_queue",
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


@shared_task(bind=True, max_retries=3, default_retry_delay=10, ignore_result=True, acks_late=True)  # type: ignore[untyped-decorator]
def send_donor_code_task(self, code_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        donor_code_mail.send_donor_code(code_id=code_id)
    except Exception as exc:  # the claim was released: a retry sends a new code once
        raise self.retry(exc=exc) from exc


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def send_pending_donor_codes() -> int:
    return donor_code_mail.send_pending_donor_codes()


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def sweep_compliance_queue() -> int:
    """The treasurer's queue: open the items the ledger shows, send due redesignation notices."""
    opened = queue.sweep()
    treasurer.send_due_notices()
    return opened


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def mail_treasurer_digests() -> int:
    return digest.mail_digests()
