"""Starting a monthly gift at the provider: the campaign's product (created once), the donor's
customer and subscription, and the MonthlyGift row. Its paid invoices reach the ledger as
provider events (donations.webhooks.monthly)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from donations.models import Donation, ProviderProduct
from donations.payments import payment_request, with_backoff
from donations.providers.base import (
    NO_CARD,
    CardUse,
    CreatedSubscription,
    PaymentProvider,
    SubscriptionRequest,
)
from donations.webhooks import monthly
from events.models import Event


def ensure_product(*, provider: PaymentProvider, event: Event, donation_id: int) -> str:
    """The campaign's product for monthly gifts at this provider: created once (an idempotency
    key per campaign makes concurrent first creators get the same one), then read back."""
    campaign = event.campaign
    found = (
        ProviderProduct.objects.filter(campaign=campaign, provider=provider.name)
        .values_list("product_id", flat=True)
        .first()
    )
    if found:
        return found
    product_id = with_backoff(
        lambda: provider.create_product(
            name=f"Monthly gift to {campaign.name}",
            idempotency_key=f"pc-product-{campaign.pk}-{campaign.slug}",
            metadata={"campaign_id": str(campaign.pk)},
        ),
        donation_id=donation_id,
    )
    try:
        with transaction.atomic():
            ProviderProduct.objects.create(
                campaign=campaign, provider=provider.name, product_id=product_id
            )
    except IntegrityError:  # a concurrent first monthly donor stored it first
        return ProviderProduct.objects.get(campaign=campaign, provider=provider.name).product_id
    return product_id


def create_subscription_with_backoff(
    *, provider: PaymentProvider, donation: Donation, event: Event, card: CardUse = NO_CARD
) -> CreatedSubscription:
    """The monthly gift at the provider (customer + subscription; the customer and the card
    `card` names, when it names them), its first invoice's payment waiting for the donor; then
    the MonthlyGift row (found again on a retry)."""
    product_id = ensure_product(provider=provider, event=event, donation_id=donation.pk)
    req = SubscriptionRequest(
        product_id=product_id,
        donor=donation.donor,
        payment=payment_request(
            donation=donation,
            event=event,
            description=f"Monthly donation to {event.campaign.name}",
            card=card,
        ),
    )
    created = with_backoff(lambda: provider.create_subscription(req), donation_id=donation.pk)
    gift = monthly.record_gift(
        first=donation,
        subscription_id=created.subscription_id,
        customer_id=created.customer_id,
        provider=provider.name,
    )
    Donation.objects.filter(pk=donation.pk, monthly_gift=None).update(monthly_gift=gift)
    Donation.objects.filter(pk=donation.pk, invoice_id=None).update(invoice_id=created.invoice_id)
    return created
