"""Gifts for the milestones' and matches' tests: paid and refunded through the simulated
provider, as the ledger applies Stripe's events."""

from __future__ import annotations

from donations import services
from donations.models import Donation
from donations.refunds import refund_donation
from events.models import Event
from tests.donations.factories import DonationFactory


def give(event: Event, amount_minor: int) -> Donation:
    """A gift of `amount_minor`, paid (its tally change committed and its on-commit checks run)."""
    donation = DonationFactory(
        event=event, gift_minor=amount_minor, provider="simulated", payment_id=None
    )
    donation.payment_id = f"sim_pi_{donation.pk}"
    donation.save(update_fields=["payment_id"])
    services.confirm_simulated_payment(donation=donation, succeed=True)
    return Donation.objects.get(pk=donation.pk)


def refund(donation: Donation, amount_minor: int | None = None) -> None:
    refund_donation(donation_id=donation.pk, user_id=None, amount_minor=amount_minor)
