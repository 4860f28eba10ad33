"""Card-testing defence for starting donations: a signed page token issued with the event
page, and rate limits per IP and per email (a fixed 10-minute window in the cache, Redis in
production). The campaign minimum is the third part (donations.rules). Returning donors'
emailed codes have rate limits of their own here too."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import signing

from donations.rules import DonationRefused
from events import ratelimits

PAGE_TOKEN_SALT = "donations.page-token"  # noqa: S105 -- a salt, not a secret
RATE_WINDOW_S = 600

log = logging.getLogger(__name__)


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


def check_rate_limits(*, ip: str, email: str) -> None:
    """Count a start against DONATION_STARTS_PER_IP and DONATION_STARTS_PER_EMAIL (10-minute
    windows, the whole deployment). Raises DonationRefused (429, with retry_after) past
    either. The address is the client's as config/serve.py establishes it; an address that is
    one of our own proxies means the proxy sent no X-Forwarded-For: counting it would put
    every donor in one bucket, so only the email is counted then (and a warning logged)."""
    _count(
        scope="donations:starts",
        ip=(ip, settings.DONATION_STARTS_PER_IP),
        email=(email, settings.DONATION_STARTS_PER_EMAIL),
        window_s=RATE_WINDOW_S,
        message="Too many donation attempts. Please wait a few minutes and try again.",
    )


def check_code_request_limits(*, ip: str, email: str) -> None:
    """Count a request for an emailed code (DONOR_CODE_REQUESTS_PER_ADDRESS and _PER_EMAIL in
    DONOR_CODE_RATE_WINDOW_SECONDS): each one emails the donor. Raises DonationRefused (429)."""
    _count(
        scope="donations:codes",
        ip=(ip, settings.DONOR_CODE_REQUESTS_PER_ADDRESS),
        email=(email, settings.DONOR_CODE_REQUESTS_PER_EMAIL),
        window_s=settings.DONOR_CODE_RATE_WINDOW_SECONDS,
        message="Too many codes asked for. Please wait a while and try again.",
    )


def check_code_check_limits(*, ip: str, email: str) -> None:
    """Count a try of an emailed code (DONOR_CODE_CHECKS_PER_ADDRESS and _PER_EMAIL in
    DONOR_CODE_RATE_WINDOW_SECONDS), beside each code's own few tries: guessing codes across
    addresses or across new codes is bounded too. Raises DonationRefused (429)."""
    _count(
        scope="donations:code-checks",
        ip=(ip, settings.DONOR_CODE_CHECKS_PER_ADDRESS),
        email=(email, settings.DONOR_CODE_CHECKS_PER_EMAIL),
        window_s=settings.DONOR_CODE_RATE_WINDOW_SECONDS,
        message="Too many tries. Please wait a while and try again.",
    )


def _count(
    *, scope: str, ip: tuple[str, int], email: tuple[str, int], window_s: int, message: str
) -> None:
    limits = [(f"{scope}:email", email[0].casefold(), email[1])]
    if ratelimits.is_trusted_proxy(ip[0]):
        log.warning("request from a trusted proxy without X-Forwarded-For", extra={"scope": scope})
    else:
        limits.insert(0, (f"{scope}:ip", ip[0], ip[1]))
    for name, subject, limit in limits:
        wait = ratelimits.hit(scope=name, subject=subject, limit=limit, window_s=window_s)
        if wait is not None:
            raise DonationRefused(message, status=429, retry_after=wait)
