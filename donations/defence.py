"""Card-testing defence for starting donations: a signed page token issued with the event
page, and rate limits per IP and per email (a fixed 10-minute window in the cache, Redis in
production). The campaign minimum is the third part (donations.rules)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.cache import cache

from donations.rules import DonationRefused

PAGE_TOKEN_SALT = "donations.page-token"  # noqa: S105 -- a salt, not a secret
RATE_WINDOW_S = 600


def issue_page_token(*, event_id: int) -> str:
    """Signed with the event page; required to start a donation for that event."""
    return signing.dumps({"e": event_id}, salt=PAGE_TOKEN_SALT, compress=False)


def check_page_token(*, token: str, event_id: int) -> None:
    try:
        data = signing.loads(
            token, salt=PAGE_TOKEN_SALT, max_age=settings.DONATION_PAGE_TOKEN_MAX_AGE
        )
    except signing.SignatureExpired:
        raise DonationRefused(
            "This page has been open too long. Reload it and try again.", status=403
        ) from None
    except signing.BadSignature:
        raise DonationRefused("Reload the event page and try again.", status=403) from None
    if not isinstance(data, dict) or data.get("e") != event_id:
        raise DonationRefused("Reload the event page and try again.", status=403)


def _hit(key: str, limit: int) -> bool:
    """Count one start against a fixed 10-minute window; True while within the limit."""
    cache.add(key, 0, timeout=RATE_WINDOW_S)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=RATE_WINDOW_S)
        count = 1
    return count <= limit


def check_rate_limits(*, ip: str, email: str) -> None:
    too_many = "Too many donation attempts. Please wait a few minutes and try again."
    if not _hit(f"donations:starts:ip:{ip}", settings.DONATION_STARTS_PER_IP):
        raise DonationRefused(too_many, status=429)
    if not _hit(f"donations:starts:email:{email}", settings.DONATION_STARTS_PER_EMAIL):
        raise DonationRefused(too_many, status=429)
