"""Refunds staff ask for (the admin's action). The ledger changes only when the provider's
`charge.refunded` event is applied, like any other event; the simulated provider's comes at
once, through the same path."""

from __future__ import annotations

import logging

from donations.models import Donation
from donations.providers import get_provider, simulated
from donations.providers.base import PaymentProvider, ProviderError
from donations.providers.simulated import SimulatedProvider
from donations.webhooks.apply import receive_event

log = logging.getLogger(__name__)


class RefundRefused(Exception):
    """A refund staff asked for that we cannot do; the message says why."""


def refund_donation(
    *, donation_id: int, user_id: int | None, amount_minor: int | None = None
) -> str:
    """Ask the provider to refund what is left of a succeeded donation, or `amount_minor` of
    it (the excess of a contribution past the limit). Returns the provider's refund id; raises
    RefundRefused (nothing to refund, more than is left, provider not configured or
    refusing)."""
    donation = Donation.objects.get(pk=donation_id)
    remaining = donation.amount_minor - donation.refunded_minor
    if not donation.succeeded_seen or not donation.payment_id or remaining <= 0:
        raise RefundRefused(f"Donation {donation.pk} has nothing to refund.")
    if amount_minor is not None and not 0 < amount_minor <= remaining:
        raise RefundRefused(f"Donation {donation.pk} has only {remaining} left to refund.")
    amount = remaining if amount_minor is None else amount_minor
    provider: PaymentProvider | None
    if donation.provider == SimulatedProvider.name:
        provider = SimulatedProvider()
    else:
        provider = get_provider()
        if provider is None or provider.name != donation.provider:
            raise RefundRefused("The payment provider of this donation is not configured.")
    try:
        result = provider.refund(
            payment_id=donation.payment_id,
            amount_minor=amount,
            # Same donation, same already-refunded amount: the same refund, never two.
            idempotency_key=f"pc-refund-{donation.pk}-{donation.refunded_minor}-{amount}",
        )
    except ProviderError as exc:
        raise RefundRefused(f"The provider refused the refund: {exc}") from exc
    log.info(
        "refund requested donation_id=%s refund_id=%s user_id=%s",
        donation.pk,
        result.refund_id,
        user_id,
    )
    if isinstance(provider, SimulatedProvider):
        event = simulated.refund_event(
            donation=donation,
            refunded_minor=donation.refunded_minor + amount,
            refund_id=result.refund_id,
        )
        receive_event(event=event, source=provider.name)
    return result.refund_id
