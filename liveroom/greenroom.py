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
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from events import selectors as event_selectors
from events.models import Event, EventStatus
from liveroom import staffactions
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


@require_POST
@never_cache
@staff_member_required
def show_action(request: HttpRequest, event_id: int, action: str) -> HttpResponse:
    """POST `/staff/events/<id>/show/<go-live|end|resume>/`."""
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    run = ACTIONS.get(action)
    if run is None:
        raise Http404("No such action.")
    if not staffactions.may_change(user=request.user, event=event):
        return staffactions.refuse_view_only(request, VIEW_ONLY)
    try:
        event = run(event_id=event.pk)
    except show.ShowRefused as refused:
        if staffactions.wants_json(request):
            return JsonResponse({"error": refused.message}, status=refused.status)
        messages.error(request, refused.message)
    else:
        if staffactions.wants_json(request):
            return JsonResponse({"status": event.status})
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
