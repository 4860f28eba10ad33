"""Reconciliation: the provider's list of recent payments against the ledger, for what the
webhooks missed."""

from __future__ import annotations

import logging
from datetime import datetime

from donations.providers.base import PaymentProvider
from donations.providers.stripe_events import reconciled_event
from donations.webhooks.apply import apply_event
from donations.webhooks.store import record_event

log = logging.getLogger(__name__)


def reconcile_payments(*, provider: PaymentProvider, since: datetime) -> int:
    """List the provider's payments created since `since` (all pages) and apply what the
    webhooks missed, as events of our own (`recon_<payment>_<outcome>`). Idempotent: a payment
    already known gives an event id already stored, or facts already held. Returns how many
    new events it recorded."""
    recorded = 0
    for payment in provider.list_recent_payments(created_after=since):
        event = reconciled_event(payment)
        if event is None:
            continue  # not one of ours, or no outcome yet
        row, created = record_event(event=event, source="reconcile")
        if created:
            recorded += 1
            apply_event(provider_event_id=row.pk, event=event)
    log.info("reconciliation done recorded=%s", recorded)
    return recorded
