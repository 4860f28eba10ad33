"""What the dashboard's POST buttons share (the show's, greenroom.py; the ticker's,
tickerviews.py): who may press them, and how a refusal is answered."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse, JsonResponse

from events import selectors as event_selectors
from events.models import Event


def may_change(*, user: User | AnonymousUser, event: Event) -> bool:
    """Owners and managers of the event's campaign (and superusers); viewer members see the
    dashboard but press nothing."""
    return event.campaign_id in event_selectors.staff_campaign_ids(user=user, write=True)


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def refuse_view_only(request: HttpRequest, message: str) -> HttpResponse:
    """403 with the reason: `{"error": …}` to a JSON client, the sentence otherwise."""
    if wants_json(request):
        return JsonResponse({"error": message}, status=403)
    return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
