"""Gifts in the ledger as the payment provider leaves them: a donation that succeeded (at a
chosen time), and a refund of part or all of it, each applied like the provider's event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from donations import services
from donations.models import Donation
from donations.providers import simulated
from donations.webhooks.apply import receive_event
from tests.donations.factories import DonationFactory


def give(event: Any, *, amount: int = 2_500, at: datetime | None = None, **fields: Any) -> Donation:
    """A donation that succeeded (the simulated provider's event, applied like Stripe's)."""
    donation = DonationFactory(
        event=event, provider="simulated", gift_minor=amount, payment_id=None, **fields
    )
    donation.payment_id = f"sim_pi_{donation.pk}"
    donation.save(update_fields=["payment_id"])
    services.confirm_simulated_payment(donation=donation, succeed=True)
    if at is not None:
        Donation.objects.filter(pk=donation.pk).update(succeeded_at=at)
    donation.refresh_from_db()
    return donation


def refund(donation: Donation, amount: int) -> None:
    receive_event(
        event=simulated.refund_event(
            donation=donation, refunded_minor=amount, refund_id=f"re_{donation.pk}_{amount}"
        ),
        source="simulated",
    )
