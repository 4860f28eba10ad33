"""The dashboard's capacity: the audience against the event's tier, the latest capacity notice
(80% or 95% reached, or a move to a larger tier), and an owner's "Move to <tier>" buttons, one
action each (events/capacity.py does the move and tells the live room)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from events import capacity
from events import selectors as event_selectors
from events.models import CapacityNotice, CapacityTier, Event, EventStatus
from liveroom import staffactions

OWNERS_ONLY = "Only the campaign's owners can move the event to a larger tier."
# How many larger tiers the dashboard offers (the next ones up).
OFFERED_TIERS = 3


@dataclass(frozen=True)
class CapacityPanel:
    tier: CapacityTier
    viewers: int | None
    percent: int | None
    notice: CapacityNotice | None
    warning: bool  # an 80% or 95% notice for the current tier
    larger: list[CapacityTier]  # the owner's choices ([] for anyone else, or when over)


def may_upgrade(*, user: User | AnonymousUser, event: Event) -> bool:
    return event_selectors.is_campaign_owner(user=user, campaign_id=event.campaign_id)


def capacity_panel(
    *, event: Event, viewers: int | None, user: User | AnonymousUser
) -> CapacityPanel:
    tier = event.capacity_tier
    notice = capacity.latest_notice(event_id=event.pk)
    over = event.status in (EventStatus.ENDED, EventStatus.CANCELLED)
    larger: list[CapacityTier] = []
    if not over and may_upgrade(user=user, event=event):
        larger = list(
            CapacityTier.objects.filter(max_attendees__gt=tier.max_attendees).order_by(
                "max_attendees"
            )[:OFFERED_TIERS]
        )
    return CapacityPanel(
        tier=tier,
        viewers=viewers,
        percent=None if viewers is None else viewers * 100 // max(1, tier.max_attendees),
        notice=notice,
        warning=notice is not None
        and notice.tier_id == tier.pk
        and notice.kind != "upgraded"
        and not over,
        larger=larger,
    )


@require_POST
@never_cache
@staff_member_required
def upgrade(request: HttpRequest, event_id: int) -> HttpResponse:
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    if not may_upgrade(user=request.user, event=event):
        return staffactions.refuse_view_only(request, OWNERS_ONLY)
    try:
        tier_id = int(request.POST.get("tier", ""))
    except ValueError:
        tier_id = 0
    try:
        notice = capacity.upgrade_capacity(
            event_id=event.pk, tier_id=tier_id, by_user_id=request.user.pk
        )
    except capacity.CapacityRefused as refused:
        if staffactions.wants_json(request):
            return JsonResponse({"error": str(refused)}, status=400)
        return HttpResponse(str(refused), status=400, content_type="text/plain; charset=utf-8")
    tier = notice.tier
    if staffactions.wants_json(request):
        return JsonResponse({"tier": tier.name, "max_attendees": tier.max_attendees})
    messages.success(
        request,
        f"The event now admits up to {tier.max_attendees:,} attendees ({tier.name}); "
        "attendees waiting for a seat are let in now.",
    )
    return HttpResponseRedirect(reverse("liveroom:dashboard", args=[event.pk]) + "#capacity")
