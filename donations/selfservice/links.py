"""Self-service links: asking for one (`request_link`), and opening it (`check_link` to show
it, `use_link` to spend it). A link is bound to one email address, works once, and expires
after MANAGE_LINK_MINUTES. Asking answers the same whether or not the address has given (the
caller shows one page either way), so the form tells no one who the donors are."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from donations.models import ManageLink
from donations.selfservice import selectors, tokens
from donations.selfservice.tasks import send_link_email_task
from events import ratelimits
from events.models import Campaign

log = logging.getLogger(__name__)

RATE_WINDOW_S = 3600


class LinkThrottled(Exception):
    """Too many link requests from this address or for this email; `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many link requests.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class LinkRefusal:
    """Why a link does not open: `title` and `message` for the donor, `status` for HTTP."""

    title: str
    message: str
    status: int


class LinkRefused(Exception):
    def __init__(self, refusal: LinkRefusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


MALFORMED = LinkRefusal(
    "This link is incomplete",
    "The address is not a whole link: it may have been cut or mistyped when it was copied. "
    "Open the link straight from the email, or ask for a new one below.",
    400,
)
UNKNOWN = LinkRefusal(
    "This link is not valid",
    "We have no link like this one. Ask for a new one below.",
    404,
)
USED = LinkRefusal(
    "This link was already used",
    "Each link works once, so that no one else can open it from your inbox later. "
    "Ask for a new one below: it takes a moment.",
    410,
)


def _expired() -> LinkRefusal:
    return LinkRefusal(
        "This link has expired",
        f"Links work for {settings.MANAGE_LINK_MINUTES} minutes after we send them. "
        "Ask for a new one below: it takes a moment.",
        410,
    )


def check_request_rate(*, ip: str, email: str) -> None:
    """Count a link request against MANAGE_LINKS_PER_ADDRESS and MANAGE_LINKS_PER_EMAIL (an
    hour, the whole deployment), for every email asked for, given or not. Raises
    LinkThrottled past either. An address that is one of our proxies is not counted (it
    would put every donor in one bucket)."""
    limits = [("donations:links:email", email, settings.MANAGE_LINKS_PER_EMAIL)]
    if not ratelimits.is_trusted_proxy(ip):
        limits.insert(0, ("donations:links:ip", ip, settings.MANAGE_LINKS_PER_ADDRESS))
    for scope, subject, limit in limits:
        wait = ratelimits.hit(scope=scope, subject=subject, limit=limit, window_s=RATE_WINDOW_S)
        if wait is not None:
            raise LinkThrottled(wait)


@transaction.atomic
def request_link(*, email: str, campaign_slug: str = "") -> ManageLink | None:
    """A new link for `email` (lower case), its email sent on commit, if the address has
    given; None (and nothing stored or sent) if not. `campaign_slug`: the campaign whose
    receipt the donor came from (the email's brand), ignored when unknown."""
    if not selectors.has_gifts(email=email):
        return None
    campaign = Campaign.objects.filter(slug=campaign_slug).first() if campaign_slug else None
    salt = tokens.new_salt()
    now = timezone.now()
    link = ManageLink.objects.create(
        email=email,
        campaign=campaign,
        salt=salt,
        token_hash=tokens.token_hash(tokens.token_for(salt)),
        created_at=now,
        expires_at=now + timedelta(minutes=settings.MANAGE_LINK_MINUTES),
    )
    link_id = link.pk

    def send_now() -> None:
        send_link_email_task.delay(link_id)

    # A broker (or a mail server) that is away costs nothing: the row stays due for the
    # periodic sender.
    transaction.on_commit(send_now, robust=True)
    log.info("manage link requested manage_link_id=%s", link.pk)
    return link


def check_link(*, token: str) -> ManageLink:
    """The link of `token`, if it can still be used. Raises LinkRefused (malformed, unknown,
    used or expired)."""
    if not tokens.well_formed(token):
        raise LinkRefused(MALFORMED)
    link = (
        ManageLink.objects.select_related("campaign")
        .filter(token_hash=tokens.token_hash(token))
        .first()
    )
    if link is None:
        raise LinkRefused(UNKNOWN)
    if link.used_at is not None:
        raise LinkRefused(USED)
    if link.expires_at <= timezone.now():
        raise LinkRefused(_expired())
    return link


def use_link(*, token: str) -> ManageLink:
    """Spend the link of `token` (once: a conditional update, so two tabs racing get one
    session between them). Raises LinkRefused as check_link does, and USED for the loser of
    a race."""
    link = check_link(token=token)
    now = timezone.now()
    spent = ManageLink.objects.filter(pk=link.pk, used_at=None, expires_at__gt=now).update(
        used_at=now
    )
    if not spent:
        spent_by_other = ManageLink.objects.filter(pk=link.pk, used_at__isnull=False).exists()
        raise LinkRefused(USED if spent_by_other else _expired())
    log.info("manage link used manage_link_id=%s", link.pk)
    return link
