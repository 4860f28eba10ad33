"""Receiving a provider event: store it by id, then apply it once through the handler table.
Webhooks, reconciliation findings and simulated payments all come through here; the sweep
applies what a crash left stored but unapplied."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction

from donations.models import ProviderEvent
from donations.providers.stripe_events import ParsedEvent
from donations.webhooks import store
from donations.webhooks.handlers import handle

log = logging.getLogger(__name__)

# Events older than this and still unapplied are the sweep's (a crash between store and apply).
SWEEP_AFTER = timedelta(seconds=30)


def receive_event(*, event: ParsedEvent, source: str, raw: str | None = None) -> ProviderEvent:
    """Store, then apply at once. A failure to apply is logged and left to the sweep: the
    event is stored, so the sender gets its 2xx either way. A second delivery of an event
    stored but never applied (a crash or a database restart between the two) applies it now,
    not only when the sweep runs; of an applied one, it is a no-op. `raw`: the event's JSON
    text as received, stored as is."""
    row, created = store.record_event(event=event, source=source, raw=raw)
    if created or row.applied_at is None:
        try:
            apply_event(provider_event_id=row.pk, event=event)
        except Exception as exc:
            log.exception("event not applied event_id=%s type=%s", row.event_id, row.type)
            store.note_failure(provider_event_id=row.pk, error=exc)
    return row


def apply_event(*, provider_event_id: int, event: ParsedEvent | None = None) -> bool:
    """Apply a stored event once (`event`: the stored one, when the caller has it parsed).
    Returns whether this call applied it.

    In one transaction: claim the event row (store.claim_event, linking the donation by its
    payment id), then run the handler, which locks the donor's donation rows and moves the
    tally shards last, so shard rows stay locked only until the commit right after. A second
    applier (the sweep racing the receiver) waits on the claim, then finds nothing to claim.
    If the handler fails, the claim rolls back with it: the sweep retries."""
    if event is None:
        event = store.stored_event(provider_event_id=provider_event_id)
    with transaction.atomic():
        if not store.claim_event(provider_event_id=provider_event_id, payment_id=event.payment_id):
            return False
        row = ProviderEvent(pk=provider_event_id, type=event.type, event_id=event.event_id)
        handle(row, event.object)
    return True


def apply_unapplied_events(*, older_than: timedelta = SWEEP_AFTER, limit: int = 500) -> int:
    """The sweep: apply stored events that were never applied. Returns how many it applied."""
    applied = 0
    for pk in store.unapplied_event_ids(older_than=older_than, limit=limit):
        try:
            applied += apply_event(provider_event_id=pk)
        except Exception as exc:
            log.exception("sweep could not apply provider_event=%s", pk)
            store.note_failure(provider_event_id=pk, error=exc)
    if applied:
        log.info("sweep applied events=%s", applied)
    return applied
