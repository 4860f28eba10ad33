"""What a donor sees of their own giving, by the email address their session is bound to:
their gifts (every campaign), their monthly gifts, one gift's receipt. `access_*` reads one row
only if it is the donor's (None otherwise: the view's 404, the same for someone else's row as
for no row at all)."""

from __future__ import annotations

from django.db.models import QuerySet

from donations.models import Donation, MonthlyGift, MonthlyGiftStatus
from events.models import Campaign

# A donor with more gifts than this sees the newest ones (and is told so).
MAX_GIFTS_SHOWN = 200


def _gifts(*, email: str) -> QuerySet[Donation]:
    # A gift is a donation that was paid (refunded or disputed later, it still is one);
    # abandoned and declined attempts are not.
    return Donation.objects.filter(email=email, succeeded_seen=True)


def has_gifts(*, email: str) -> bool:
    return _gifts(email=email).exists()


def donor_gifts(*, email: str) -> list[Donation]:
    """The donor's gifts, newest first (at most MAX_GIFTS_SHOWN + 1, so a caller can tell
    there are more), with their campaigns."""
    return list(
        _gifts(email=email)
        .select_related("campaign")
        .order_by("-created_at", "-id")[: MAX_GIFTS_SHOWN + 1]
    )


def donor_monthly_gifts(*, email: str) -> list[MonthlyGift]:
    """The donor's monthly gifts that started (their first month was paid), newest first."""
    return list(
        MonthlyGift.objects.filter(first_donation__email=email)
        .exclude(status=MonthlyGiftStatus.INCOMPLETE)
        .select_related("campaign")
        .order_by("-created_at", "-id")
    )


def access_donor_gift(*, email: str, reference: str) -> Donation | None:
    """One of the donor's gifts by its receipt reference (with campaign and event)."""
    return (
        _gifts(email=email).select_related("campaign", "event").filter(reference=reference).first()
    )


def access_donor_monthly_gift(*, email: str, gift_id: int) -> MonthlyGift | None:
    """One of the donor's monthly gifts (with its campaign)."""
    return (
        MonthlyGift.objects.select_related("campaign")
        .filter(pk=gift_id, first_donation__email=email)
        .first()
    )


def only_campaign(*, gifts: list[Donation], monthly: list[MonthlyGift]) -> Campaign | None:
    """The one campaign all these gifts went to (its brand is the page's); None for several
    or none."""
    campaigns = {g.campaign_id: g.campaign for g in gifts}
    campaigns.update({m.campaign_id: m.campaign for m in monthly})
    return next(iter(campaigns.values())) if len(campaigns) == 1 else None


def brand_campaign(*, email: str, campaign: Campaign | None) -> Campaign | None:
    """The campaign whose brand an email to this donor carries: `campaign` (the receipt they
    came from) if they gave to it, else the one campaign they gave to, else None."""
    given = _gifts(email=email)
    if campaign is not None and given.filter(campaign=campaign).exists():
        return campaign
    ids = list(given.order_by().values_list("campaign_id", flat=True).distinct()[:2])
    return Campaign.objects.filter(pk=ids[0]).first() if len(ids) == 1 else None
