"""The receipt tasks, apart from donations.tasks so that the ledger can enqueue one without
importing the reconciliation and sweep tasks (which import the ledger). Registered with the
worker through donations.tasks, under its names."""

from __future__ import annotations

from celery import shared_task

from donations import receipts


@shared_task(  # type: ignore[untyped-decorator]
    name="donations.tasks.send_receipt_task",
    bind=True,
    max_retries=5,
    default_retry_delay=60,
    ignore_result=True,
    acks_late=True,
)
def send_receipt_task(self, donation_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        receipts.send_receipt(donation_id=donation_id)
    except Exception as exc:  # the claim was released: a retry sends it once
        raise self.retry(exc=exc) from exc


@shared_task(name="donations.tasks.send_pending_receipts", ignore_result=True)  # type: ignore[untyped-decorator]
def send_pending_receipts() -> int:
    return receipts.send_pending_receipts()
