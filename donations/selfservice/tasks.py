"""The link email's tasks (registered with the worker through donations.tasks, under its
names): one link, enqueued on commit, and the periodic sweep of the outbox."""

from __future__ import annotations

from celery import shared_task

from donations.selfservice import emails


@shared_task(  # type: ignore[untyped-decorator]
    name="donations.tasks.send_link_email_task",
    bind=True,
    max_retries=5,
    default_retry_delay=10,
    ignore_result=True,
    acks_late=True,
)
def send_link_email_task(self, link_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        emails.send_link_email(link_id=link_id)
    except Exception as exc:  # the claim was released: a retry sends it once
        raise self.retry(exc=exc) from exc


@shared_task(name="donations.tasks.send_pending_link_emails", ignore_result=True)  # type: ignore[untyped-decorator]
def send_pending_link_emails() -> int:
    return emails.send_pending_link_emails()
