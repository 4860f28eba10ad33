"""factory_boy factories for the donations app."""

from __future__ import annotations

import uuid

import factory

from donations.models import Donation
from tests.factories import EventFactory


class DonationFactory(factory.django.DjangoModelFactory):
    """A pending donation whose payment exists at the provider (payment_id set)."""

    class Meta:
        model = Donation

    event = factory.SubFactory(EventFactory, status="live")
    campaign = factory.LazyAttribute(lambda o: o.event.campaign)
    attempt_key = factory.LazyFunction(uuid.uuid4)
    provider = "stripe"
    payment_id = factory.Sequence(lambda n: f"pi_test_{n:06d}")
    gift_minor = 2_500
    fee_minor = 0
    amount_minor = factory.LazyAttribute(lambda o: o.gift_minor + o.fee_minor)
    currency = "usd"
    email = factory.Sequence(lambda n: f"donor{n}@example.com")
    first_name = "Ada"
    last_name = "Lovelace"
