"""Staff's say over the live ticker from the dashboard: "Hide from ticker" and "Show again" on
each recent donation (donations.ticker does the work; every viewer's ticker follows with the
next snapshot).

POST `/staff/events/<id>/ticker/<donation id>/<hide|show>/`. Staff of the event's campaign
only (others: 404, as the dashboard); only owners and managers may press it (viewer members:
403 with the reason); a donation that is not the event's is a 404. A refused request changes
nothing; a JSON client gets `{"error": …}` or `{"hidden": …}`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from donations import ticker
from donations.models import Donation
from events import selectors as event_selectors
from liveroom import staffactions

VIEW_ONLY = (
    "Your role on this campaign is view-only: only its owners and managers can hide a line "
    "from the ticker."
)
ACTIONS = {"hide": True, "show": False}


@require_POST
@never_cache
@staff_member_required
def ticker_line(request: HttpRequest, event_id: int, donation_id: int, action: str) -> HttpResponse:
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    hidden = ACTIONS.get(action)
    if hidden is None:
        raise Http404("No such action.")
    if not staffactions.may_change(user=request.user, event=event):
        return staffactions.refuse_view_only(request, VIEW_ONLY)
    try:
        ticker.set_ticker_hidden(
            event_id=event.pk, donation_id=donation_id, hidden=hidden, by_user_id=request.user.pk
        )
    except Donation.DoesNotExist:
        raise Http404("No such donation in this event.") from None
    if staffactions.wants_json(request):
        return JsonResponse({"donation_id": donation_id, "hidden": hidden})
    messages.success(
        request,
        f"Donation {donation_id} is hidden from the ticker."
        if hidden
        else f"Donation {donation_id} shows in the ticker again (if the donor opted in).",
    )
    dashboard = reverse("liveroom:dashboard", args=[event.pk])
    return HttpResponseRedirect(f"{dashboard}#recent-donations")
