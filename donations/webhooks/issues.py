"""Ledger issues: what a provider told us that we did not count, for staff to look at."""

from __future__ import annotations

import logging

from donations.models import Donation, IssueKind, LedgerIssue, ProviderEvent
from events.models import Campaign

log = logging.getLogger(__name__)


def record_issue(
    row: ProviderEvent,
    kind: IssueKind,
    detail: str,
    donation: Donation | None,
    campaign_id: int | None = None,
) -> None:
    """Record something staff must look at (once per event and kind). Staff see it when it
    names one of their campaigns (the donation's, else `campaign_id` if it exists); the
    operator sees all."""
    if donation is None and campaign_id is not None:
        campaign_id = Campaign.objects.filter(pk=campaign_id).values_list("pk", flat=True).first()
    LedgerIssue.objects.get_or_create(
        provider_event=row,
        kind=kind,
        defaults={
            "detail": detail,
            "donation": donation,
            "campaign_id": donation.campaign_id if donation else campaign_id,
        },
    )
    log.warning(
        "ledger issue kind=%s event_id=%s donation_id=%s",
        kind,
        row.event_id,
        donation.pk if donation else None,
    )


def check_amount(
    row: ProviderEvent, donation: Donation, *, amount: int | None, currency: str | None
) -> bool:
    """Whether the provider's amount and currency are the donation's; if not, an issue."""
    if str(currency).lower() != donation.currency:
        record_issue(
            row,
            IssueKind.CURRENCY_MISMATCH,
            f"{row.type} is in {currency}; the donation is in {donation.currency}.",
            donation,
        )
        return False
    if amount != donation.amount_minor:
        record_issue(
            row,
            IssueKind.AMOUNT_MISMATCH,
            f"{row.type} is for {amount}; the donation is for {donation.amount_minor}.",
            donation,
        )
        return False
    return True
