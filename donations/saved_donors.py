"""Returning donors' saved cards (models.SavedDonor): saving one with a gift, learning from the
provider's success event which payment method paid, the card as the donor sees it, and the
signed cookie that lets one browser give with it in one tap (donations.one_tap).

Who may use a saved card: only a browser whose cookie names the record's random token (never
its id), signed with SECRET_KEY under a salt of its own and at most a year old. The cookie is
set by the start of the gift that saved the card (that browser typed the card) or by a right
emailed code (donations.donor_codes: whoever reads the donor's inbox). Nothing else a request
says names a card, a customer or a donor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from donations.models import Donation, Interval, SavedDonor
from donations.payments import with_backoff
from donations.providers import get_provider
from donations.providers.base import CardUse, PaymentProvider, ProviderError

log = logging.getLogger(__name__)

COOKIE = "pc_donor"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
_SALT = "donations.saved-donor"

# How card brands read ("Visa •• 4242"); another brand or kind of payment method reads as
# "Your saved card".
BRAND_NAMES = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "jcb": "JCB",
    "link": "Link",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


# --- The browser's cookie ------------------------------------------------------------------------


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def device_cookie(token: str) -> str:
    """The cookie value naming a saved card's token (signed, with the time it was signed)."""
    return _signer().sign(token)


def token_from_cookie(value: str | None) -> str | None:
    """The token a cookie value names; None when absent, not signed by us under this salt
    (forged, tampered, another cookie's) or older than COOKIE_MAX_AGE_S."""
    if not value or len(value) > 200:
        return None
    try:
        return _signer().unsign(value, max_age=COOKIE_MAX_AGE_S)
    except signing.BadSignature:  # SignatureExpired is one
        return None


def device_token(request: HttpRequest) -> str | None:
    """The saved card's token the request's cookie names (None: no valid cookie)."""
    return token_from_cookie(request.COOKIES.get(COOKIE))


def remember_device(response: HttpResponse, token: str) -> None:
    """Let this browser give with the saved card `token` names, for a year from now."""
    response.set_cookie(
        COOKIE,
        device_cookie(token),
        max_age=COOKIE_MAX_AGE_S,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def forget_device(response: HttpResponse) -> None:
    """ "Not you? Forget this device": the browser drops the cookie."""
    response.delete_cookie(COOKIE, samesite="Lax")


# --- Saving a card with a gift -------------------------------------------------------------------


@dataclass(frozen=True)
class Saving:
    """A gift that saves the donor's card: the token its cookie names, and what its payment
    does with the card."""

    token: str
    card: CardUse


def customer_to_reuse(*, token: str | None, email: str) -> str:
    """The provider's customer of the saved card this browser's cookie names, when it is the
    same donor's (the same email) with the current provider: a new card is kept under it too.
    "" otherwise."""
    provider = get_provider()
    if token is None or provider is None:
        return ""
    found = (
        SavedDonor.objects.filter(token=token, email=email, provider=provider.name, revoked_at=None)
        .values_list("customer_id", flat=True)
        .first()
    )
    return found or ""


def start_saving(*, provider: PaymentProvider, donation: Donation, customer_id: str) -> Saving:
    """The saved card a gift that asked to save it makes: pending until the provider's success
    event names the payment method (record_payment_method). Created once per gift (a retried
    start finds it again). A one-time gift's payment needs a customer to keep the card under:
    `customer_id` (a returning donor's), else a new one, created under an idempotency key of the
    attempt's. A monthly gift's subscription makes its own customer unless `customer_id` names
    one (note_customer records it). Raises ProviderError as the provider does."""
    saved, _ = SavedDonor.objects.get_or_create(
        donation=donation,
        defaults={
            "provider": provider.name,
            "email": donation.email,
            "details": {k: v for k, v in donation.donor.as_fields().items() if k != "email"},
            "customer_id": customer_id,
        },
    )
    if donation.interval == Interval.ONCE and not saved.customer_id:
        created = with_backoff(
            lambda: provider.create_customer(
                donor=donation.donor,
                idempotency_key=f"pc-donation-{donation.attempt_key}-customer",
            ),
            donation_id=donation.pk,
        )
        SavedDonor.objects.filter(pk=saved.pk, customer_id="").update(customer_id=created)
        saved.refresh_from_db(fields=["customer_id"])
    return Saving(token=saved.token, card=CardUse(customer_id=saved.customer_id, save=True))


def note_customer(*, donation_id: int, customer_id: str) -> None:
    """The customer a monthly gift's subscription keeps the saving gift's card under."""
    SavedDonor.objects.filter(donation_id=donation_id, customer_id="").update(
        customer_id=customer_id
    )


def record_payment_method(*, payment_id: str, payment_method_id: str, customer_id: str) -> bool:
    """The provider's success event for a payment named the payment method that paid it: the
    saved card pending on that gift becomes usable, once its donation has succeeded, and any
    older card saved under the same customer (the same donor) is revoked. Runs in the
    transaction that applies the event, after the donation's state; a second delivery finds it
    saved. Returns whether it saved one."""
    if not payment_id or not payment_method_id:
        return False
    saved = (
        SavedDonor.objects.select_for_update()
        .filter(donation__payment_id=payment_id, saved_at=None, revoked_at=None)
        .select_related("donation")
        .first()
    )
    if saved is None or not saved.donation.succeeded_seen:
        return False
    now = timezone.now()
    saved.payment_method_id = payment_method_id
    saved.customer_id = saved.customer_id or customer_id
    saved.saved_at = now
    saved.save(update_fields=["payment_method_id", "customer_id", "saved_at"])
    if saved.customer_id:
        SavedDonor.objects.filter(
            provider=saved.provider,
            customer_id=saved.customer_id,
            saved_at__isnull=False,
            revoked_at=None,
        ).exclude(pk=saved.pk).update(revoked_at=now)
    log.info("card saved saved_donor_id=%s donation_id=%s", saved.pk, saved.donation_id)
    return True


# --- Using a saved card --------------------------------------------------------------------------


def saved_donor_for(*, token: str | None) -> SavedDonor | None:
    """The saved card a cookie's token names, unless it was revoked (pending ones too)."""
    if token is None:
        return None
    return SavedDonor.objects.filter(token=token, revoked_at=None).first()


def usable(saved: SavedDonor | None) -> SavedDonor | None:
    """`saved` if it can pay now: the provider confirmed it, with the provider in use, and its
    card has not expired. Reads the card's brand and digits from the provider the first time
    (a provider that cannot answer: None this time, asked again the next)."""
    provider = get_provider()
    if saved is None or saved.saved_at is None or provider is None:
        return None
    if saved.provider != provider.name:
        return None
    if not saved.card_brand and not _read_card(provider, saved):
        return None
    if _expired(saved, timezone.now()):
        return None
    return saved


def _read_card(provider: PaymentProvider, saved: SavedDonor) -> bool:
    try:
        card = provider.retrieve_card(payment_method_id=saved.payment_method_id)
    except ProviderError as exc:
        log.warning("saved card not read saved_donor_id=%s error=%s", saved.pk, type(exc).__name__)
        return False
    saved.card_brand = card.brand[:30] or "card"
    saved.card_last4 = card.last4[:4]
    saved.card_exp_month = card.exp_month
    saved.card_exp_year = card.exp_year
    saved.save(update_fields=["card_brand", "card_last4", "card_exp_month", "card_exp_year"])
    return True


def _expired(saved: SavedDonor, now: datetime) -> bool:
    if saved.card_exp_year is None or saved.card_exp_month is None:
        return False
    return (saved.card_exp_year, saved.card_exp_month) < (now.year, now.month)


def card_label(saved: SavedDonor) -> str:
    """ "Visa •• 4242", "Link", or "Your saved card"."""
    name = BRAND_NAMES.get(saved.card_brand)
    if name is None:
        return "Your saved card"
    return f"{name} •• {saved.card_last4}" if saved.card_last4 else name


def newest_usable_for(*, email: str) -> SavedDonor | None:
    """The newest usable saved card of an address (what an emailed code unlocks)."""
    for saved in SavedDonor.objects.filter(
        email=email, saved_at__isnull=False, revoked_at=None
    ).order_by("-saved_at")[:5]:
        if usable(saved) is not None:
            return saved
    return None


def has_saved_card(*, email: str) -> bool:
    """Whether an address has a card saved with the provider in use (cheap: no provider
    call; the code is worth emailing)."""
    provider = get_provider()
    return provider is not None and (
        SavedDonor.objects.filter(
            email=email, provider=provider.name, saved_at__isnull=False, revoked_at=None
        ).exists()
    )


def mark_used(*, saved_donor_id: int) -> None:
    SavedDonor.objects.filter(pk=saved_donor_id).update(last_used_at=timezone.now())
