"""Payment providers behind one interface (base.PaymentProvider): Stripe and Simulated.
Importing the package loads both (the `stripe` library costs well under 0.1 s once per
process, and every process that takes donations loads it anyway)."""

from __future__ import annotations

import threading

from django.conf import settings

from donations.providers.base import PaymentProvider
from donations.providers.simulated import SimulatedProvider
from donations.providers.stripe import StripeProvider

_lock = threading.Lock()
_cache: dict[tuple[str, ...], PaymentProvider] = {}


def get_provider() -> PaymentProvider | None:
    """Stripe when a secret key is set; else the simulated provider when DEBUG is on or
    ALLOW_SIMULATED_PAYMENTS allows it; else None (donations are closed)."""
    if settings.STRIPE_SECRET_KEY:
        # One client (and its HTTP connection pool) per configuration, shared by threads.
        cache_key = (
            settings.STRIPE_SECRET_KEY,
            settings.STRIPE_PUBLISHABLE_KEY,
            settings.STRIPE_WEBHOOK_SECRET,
            settings.STRIPE_API_BASE,
        )
        with _lock:
            if cache_key not in _cache:
                _cache[cache_key] = StripeProvider(
                    secret_key=settings.STRIPE_SECRET_KEY,
                    publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
                    webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
                    api_base=settings.STRIPE_API_BASE,
                )
            return _cache[cache_key]
    if settings.DEBUG or settings.ALLOW_SIMULATED_PAYMENTS:
        return SimulatedProvider()
    return None
