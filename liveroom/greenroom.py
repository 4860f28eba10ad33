"""The show's controls on the staff's live dashboard: the green room's preview and the "Go
live", "End show" and "Resume show" buttons (streaming/show.py does the work).

Staff of the event's campaign see the controls (others: 404, as the dashboard); only owners
and managers may press them (viewer members: 403 with the reason). A refused action changes
nothing and says why, on the dashboard, or as `{"error": …}` to a JSON client.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.models import AnonymousUser, User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from events import selectors as event_selectors
from events.models import Event, EventStatus
from streaming import encoderhelp, show
from streaming import selectors as stream_selectors
from streaming.models import Stream, StreamMode

VIEW_ONLY = (
    "Your role on this campaign is view-only: only its owners and managers can take the show "
    "live, end it or resume it."
)


@dataclass(frozen=True)
class Control:
    action: str  # the URL's action
    label: str
    confirm: str  # asked before the POST ("" for none)


CONTROLS = {
    "go-live": Control("go-live", "Go live", "Go live now? Every viewer sees the stream."),
    "end": Control("end", "End show", "End the show for every viewer? Giving stays open."),
    "resume": Control("resume", "Resume show", "Resume the show? The stream takes video again."),
}
ACTIONS = {"go-live": show.go_live, "end": show.end_show, "resume": show.resume_show}


def may_run_show(*, user: User | AnonymousUser, event: Event) -> bool:
    return event.campaign_id in event_selectors.staff_campaign_ids(user=user, write=True)


def controls_for(*, event: Event) -> list[Control]:
    """The buttons the show's status offers (the service still checks everything)."""
    if event.status in (EventStatus.SCHEDULED, EventStatus.BACKSTAGE):
        return [CONTROLS["go-live"]]
    if event.status == EventStatus.LIVE:
        return [CONTROLS["end"]]
    if event.status == EventStatus.ENDED:
        return [CONTROLS["resume"]]
    return []


@dataclass(frozen=True)
class EncoderHelp:
    """Where the encoder sends and how, for the green room (never the key: it is shown once,
    when made; "Rotate key" on the event's admin page makes a new one)."""

    settings: list[encoderhelp.Setting]
    ingest_url: str
    admin_url: str


def encoder_help(*, event: Event) -> EncoderHelp | None:
    stream = Stream.objects.filter(event_id=event.pk).first()
    if stream is None or stream.mode != StreamMode.PUSH:
        return None
    return EncoderHelp(
        settings=encoderhelp.obs_settings(stream),
        ingest_url=encoderhelp.hls_ingest_url(stream),
        admin_url=reverse("admin:events_event_change", args=[event.pk]),
    )


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
@never_cache
@staff_member_required
def show_action(request: HttpRequest, event_id: int, action: str) -> HttpResponse:
    """POST `/staff/events/<id>/show/<go-live|end|resume>/`."""
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    run = ACTIONS.get(action)
    if run is None:
        raise Http404("No such action.")
    status, message = 200, ""
    if not may_run_show(user=request.user, event=event):
        status, message = 403, VIEW_ONLY
    else:
        try:
            event = run(event_id=event.pk)
        except show.ShowRefused as refused:
            status, message = refused.status, refused.message
    if _wants_json(request):
        if status != 200:
            return JsonResponse({"error": message}, status=status)
        return JsonResponse({"status": event.status})
    if status == 403:
        return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
    if status != 200:
        messages.error(request, message)
    else:
        messages.success(request, f"“{event.title}” is now {event.get_status_display().lower()}.")
    return HttpResponseRedirect(reverse("liveroom:dashboard", args=[event.pk]))


@require_safe
@never_cache
@staff_member_required
def preview(request: HttpRequest, event_id: int) -> JsonResponse:
    """`/staff/events/<id>/preview.json`: the green room's signed playlist URL (null before
    video arrives) and the stream's state. Staff of the campaign only."""
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    health = stream_selectors.stream_health(event_id=event.pk)
    response = JsonResponse(
        {
            "status": event.status,
            "url": stream_selectors.preview_url(event_id=event.pk),
            "state": health.state if health is not None else "none",
        }
    )
    response["Cache-Control"] = "private, no-store"
    return response
