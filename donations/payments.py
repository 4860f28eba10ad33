"""Asking the provider for a donation's payment: every call retried on a 429 with jittered
backoff under the same idempotency key (Stripe's library does not retry a 429, and a spike of
donors can exceed its ~25 requests/s)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from donations.models import Donation
from donations.providers.base import (
    NO_CARD,
    CardUse,
    CreatedPayment,
    PaymentProvider,
    PaymentRequest,
    ProviderRateLimited,
)
from events.models import Event

log = logging.getLogger(__name__)

T = TypeVar("T")


def with_backoff(call: Callable[[], T], *, donation_id: int) -> T:
    """Run a provider call; on a 429, retry it with full-jitter exponential backoff for at most
    DONATION_PROVIDER_RETRY_SECONDS. `call` must reuse its idempotency key on every try.
    Raises ProviderRateLimited when the time is up, and any other ProviderError at once."""
    deadline = time.monotonic() + settings.DONATION_PROVIDER_RETRY_SECONDS
    delay = 0.05
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except ProviderRateLimited:
            pause = random.uniform(0, delay)  # noqa: S311 -- jitter, not security
            if time.monotonic() + pause > deadline:
                log.warning(
                    "provider rate limited, giving up donation_id=%s attempts=%s",
                    donation_id,
                    attempt,
                )
                raise
            time.sleep(pause)
            delay = min(delay * 2, 2.0)


def payment_request(
    *, donation: Donation, event: Event, description: str, card: CardUse = NO_CARD
) -> PaymentRequest:
    """The donation's payment as we ask the provider for it: its amount, under the idempotency
    key of its attempt (a retried start finds the same payment), with metadata to find the
    donation again (reconciliation, a payment whose id we failed to store) and to show staff an
    unknown payment's campaign; saving or paying with the donor's card as `card` says."""
    return PaymentRequest(
        amount_minor=donation.amount_minor,
        currency=donation.currency,
        idempotency_key=f"pc-donation-{donation.attempt_key}",
        metadata={
            "donation_id": str(donation.pk),
            "event_id": str(event.pk),
            "campaign_id": str(event.campaign_id),
        },
        description=description,
        card=card,
    )


def create_payment_with_backoff(
    *, provider: PaymentProvider, donation: Donation, event: Event, card: CardUse = NO_CARD
) -> CreatedPayment:
    """Ask the provider for the payment, retrying a 429 under the same idempotency key."""
    req = payment_request(
        donation=donation,
        event=event,
        description=f"Donation to {event.campaign.name}",
        card=card,
    )
    return with_backoff(lambda: provider.create_payment(req), donation_id=donation.pk)
