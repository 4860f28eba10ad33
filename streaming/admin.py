"""Streams in the staff admin, scoped to the staff's campaigns like events, and the stream's
panel on the event's change page (added through events.admin.event.EventAdmin.add_panel:
events imports nothing of streaming).

The stream key is stored hashed, so it is shown once: on the page that answers creating the
stream or rotating its key (with copy buttons, OBS's fields and ffmpeg command lines), never
again and never in a message or log.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from events import selectors as event_selectors
from events.admin.event import EventAdmin, EventPanel
from events.admin.scoping import CampaignScopedAdmin
from events.models import Event, EventStatus
from streaming import encoderhelp, health, selectors, services, show, teststream, transcoder
from streaming.captions import cues
from streaming.models import Stream, StreamMode, StreamState
from streaming.simulcast import admin as simulcast_admin  # noqa: F401 (the event's inline)

# Events that may get a stream (from the add form, or the event page's "Create the stream").
STREAMABLE = [EventStatus.DRAFT, EventStatus.SCHEDULED, EventStatus.BACKSTAGE, EventStatus.LIVE]


class StreamForm(forms.ModelForm[Stream]):
    """A relay URL is checked as the relay would fetch it (events.outbound): when a relay
    stream is created or its URL changes, a URL the relay would refuse is a form error."""

    class Meta:
        model = Stream
        fields = ["event", "mode", "relay_url", "dvr", "record", "record_practice", "ladder",
                  "signed_playback", "captions", "latency"]  # fmt: skip
        # A URL typed without a scheme is taken as https (Django 6's default, said now).
        formfield_callback = lambda field, **kw: field.formfield(  # noqa: E731
            **({"assume_scheme": "https"} if isinstance(field, models.URLField) else {}), **kw
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "latency" in self.fields:
            # Left out of a form (or a script's POST): the stream keeps its latency.
            self.fields["latency"].required = False

    def clean_latency(self) -> str:
        return self.cleaned_data.get("latency") or self.instance.latency

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mode = data.get("mode", self.instance.mode)
        changed = self.instance.pk is None or "relay_url" in self.changed_data
        if mode == StreamMode.RELAY and changed and "relay_url" not in self.errors:
            try:
                services.check_relay_url(data.get("relay_url") or "")
            except ValidationError as exc:
                self.add_error("relay_url", exc)
        return data


@admin.register(Stream)
class StreamAdmin(CampaignScopedAdmin):
    form = StreamForm
    campaign_path = "event__campaign"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    change_form_template = "streaming/admin/stream_change_form.html"
    list_display = ["event", "state_display", "mode", "public_id", "last_segment_at", "last_error"]
    list_filter = ["state", "mode"]
    list_select_related = ["event"]
    search_fields = ["event__title", "public_id"]
    readonly_fields = [
        "state_display",
        "public_id",
        "ingest_url",
        "playlist_url",
        "key_rotated_at",
        "target_duration",
        "window_seconds",
        "live_at",
        "last_segment_at",
        "ended_at",
        "last_error",
        "last_error_at",
        # RTMP from OBS and its transcoder.
        "rtmp_url",
        "transcoder_health",
        "captions_cart",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # Signed playback, and the ladder once the stream exists.
        if obj is None:
            return ["event", "mode", "relay_url", "dvr", "record", "record_practice",
                    "signed_playback", "latency"]  # fmt: skip
        return ["event", "mode", "relay_url", "dvr", "record", "record_practice", "ladder",
                "signed_playback", "latency", "captions", "captions_cart",
                *self.readonly_fields]  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        # The window and recording are fixed once the stream exists (playlists depend on them).
        return ["event", "mode", "dvr", "record", *self.readonly_fields]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "event":
            ids = event_selectors.staff_campaign_ids(user=request.user, write=True)
            kwargs["queryset"] = Event.objects.filter(
                campaign_id__in=ids,
                stream__isnull=True,
                status__in=STREAMABLE,
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="state")
    def state_display(self, obj: Stream) -> str:
        state = selectors.effective_state(obj)
        return str(StreamState(state).label)

    @admin.display(description="ingest URL (HLS PUT)")
    def ingest_url(self, obj: Stream) -> str:
        if obj.mode == StreamMode.RELAY:
            return "— (relay mode: we pull the upstream)"
        return f"{settings.SITE_URL}/streaming/ingest/{obj.public_id}/"

    @admin.display(description="RTMP (OBS)")
    def rtmp_url(self, obj: Stream) -> str:
        # The key is never shown again: staff add it from the key page (`?key=<stream key>`).
        return f"Server {encoderhelp.rtmp_server()}, Stream Key {encoderhelp.obs_stream_key(obj)}"

    @admin.display(description="transcoder")
    def transcoder_health(self, obj: Stream) -> str:
        return transcoder.health_text(stream_id=obj.pk)

    @admin.display(description="captioner (CART)")
    def captions_cart(self, obj: Stream) -> str:
        where = f"POST {settings.SITE_URL}/streaming/captions/{obj.public_id}"
        if not obj.caption_key_hash:
            return f"{where}; no caption key yet: “New caption key” makes one (shown once)."
        return f"{where} with Authorization: Bearer <caption key> (shown once, when made)."

    @admin.display(description="master playlist")
    def playlist_url(self, obj: Stream) -> str:
        return settings.SITE_URL + selectors.master_path(obj.public_id)

    # --- creating, rotating, ending ----------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Stream, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["relay_url"])
            services.set_delivery_options(
                stream_id=obj.pk, ladder=obj.ladder, signed_playback=obj.signed_playback,
                record_practice=obj.record_practice, captions_mode=obj.captions,
                latency=obj.latency,
            )  # fmt: skip
            return
        stream, key = services.create_stream(
            event_id=obj.event_id, mode=obj.mode, relay_url=obj.relay_url, dvr=obj.dvr,
            record=obj.record,
        )  # fmt: skip
        services.set_delivery_options(
            stream_id=stream.pk, ladder=obj.ladder, signed_playback=obj.signed_playback,
            record_practice=obj.record_practice, captions_mode=obj.captions,
            latency=obj.latency,
        )  # fmt: skip
        obj.pk = stream.pk
        obj.refresh_from_db()
        request._stream_key = key  # type: ignore[attr-defined]  # shown once, below

    def response_add(
        self, request: HttpRequest, obj: Stream, post_url_continue: Any = None
    ) -> HttpResponse:
        key = getattr(request, "_stream_key", None)
        if key is None or obj.mode == StreamMode.RELAY:
            return super().response_add(request, obj, post_url_continue)
        return self._key_page(request, obj, key)

    def get_urls(self) -> list[URLPattern]:
        rotate = self.admin_site.admin_view(require_POST(self.rotate_key_view))
        end = self.admin_site.admin_view(require_POST(self.end_view))
        caption_key = self.admin_site.admin_view(require_POST(self.caption_key_view))
        return [
            path("<int:object_id>/rotate-key/", rotate, name="streaming_stream_rotate_key"),
            path("<int:object_id>/caption-key/", caption_key, name="streaming_stream_caption_key"),
            path("<int:object_id>/end/", end, name="streaming_stream_end"),
            *super().get_urls(),
        ]

    def _changeable(self, request: HttpRequest, object_id: int) -> Stream:
        stream: Stream | None = self.get_object(request, str(object_id))
        if stream is None:
            raise Http404("No such stream.")
        if not self.has_change_permission(request, stream):
            raise PermissionDenied
        return stream

    def rotate_key_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        stream = self._changeable(request, object_id)
        key = services.rotate_stream_key(stream_id=stream.pk)
        return self._key_page(request, stream, key)

    def caption_key_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """A new CART caption key, shown once on its page (never cached)."""
        stream = self._changeable(request, object_id)
        key = cues.rotate_caption_key(stream_id=stream.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Caption key",
            "stream": stream,
            "key": key,
            "url": f"{settings.SITE_URL}/streaming/captions/{stream.public_id}",
            "change_url": reverse("admin:streaming_stream_change", args=[stream.pk]),
            "opts": self.model._meta,
        }
        response = render(request, "streaming/admin/caption_key.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def end_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        stream = self._changeable(request, object_id)
        # The stream ends with its show: ending it ends a live show; before the show there is
        # nothing to end (the green room waits for the encoder), after it nothing is left.
        try:
            show.end_show(event_id=stream.event_id, reason="staff")
        except show.ShowRefused as refused:
            self.message_user(
                request,
                f"{refused.message} Before the show, stop the encoder (the stream waits "
                "backstage); to call the event off, cancel it.",
                messages.ERROR,
            )
        else:
            self.message_user(
                request, f"The show “{stream.event}” and its stream have ended.", messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:streaming_stream_change", args=[stream.pk]))

    def _key_page(self, request: HttpRequest, stream: Stream, key: str) -> HttpResponse:
        """The one page that shows the key: OBS's fields, the HLS push URL and ffmpeg lines
        for a file, a camera or a test pattern, all with the key in them. Never cached."""
        ingest = encoderhelp.hls_ingest_url(stream)
        test_pattern = teststream.push_command(
            ingest_url=ingest, key=key, target_duration=stream.target_duration, ffmpeg="ffmpeg"
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Stream key",
            "stream": stream,
            "key": key,
            "rtmp_server": encoderhelp.rtmp_server(),
            "obs_stream_key": encoderhelp.obs_stream_key(stream, key),
            "ingest_url": ingest + "/",
            "obs_settings": encoderhelp.obs_encoding(stream),
            "commands": encoderhelp.all_commands(stream, key),
            # ffmpeg ends the header line itself: shown without its CR LF.
            "test_pattern": shlex.join(arg.rstrip("\r\n") for arg in test_pattern),
            "change_url": reverse("admin:streaming_stream_change", args=[stream.pk]),
            "event_url": reverse("admin:events_event_change", args=[stream.event_id]),
            "opts": self.model._meta,
        }
        response = render(request, "streaming/admin/stream_key.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def change_page_context(self, request: HttpRequest, obj: Stream) -> dict[str, Any]:
        return {"can_manage_stream": self.has_change_permission(request, obj)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stream]:
        return super().get_queryset(request).select_related("event")


# --- the stream's panel on the event's change page --------------------------------------------


@dataclass(frozen=True)
class PanelRow:
    """One line of the panel's health: what, its value, and whether staff should act."""

    label: str
    value: str
    warning: bool = False


def _ago(moment: datetime | None, seconds: float | None) -> str:
    if moment is None or seconds is None:
        return "none yet"
    return f"{seconds:.0f} s ago ({moment:%H:%M:%S} UTC)"


def _health_rows(stream: Stream) -> list[PanelRow]:
    """The stream's health as the dashboard reads it (selectors.stream_health), then the
    encoder's figures measured on its segments (streaming.health)."""
    status = selectors.stream_health(event_id=stream.event_id)
    if status is None:
        return []
    troubled = (StreamState.RECONNECTING, StreamState.STALLED)
    moving = status.state in (StreamState.LIVE, *troubled)
    since = status.seconds_since_segment
    waiting = stream.mode == StreamMode.PUSH and status.state == StreamState.IDLE
    rows = [
        PanelRow("stream state", status.state_label, status.state in troubled),
        # Before any encoder came, a push stream takes RTMP as well as HLS push.
        PanelRow("ingest", "RTMP (OBS) or HLS push" if waiting else status.ingest),
        PanelRow(
            "last segment",
            _ago(stream.last_segment_at, since),
            moving and since is not None and since > 2 * status.target_duration,
        ),
    ]
    if status.renditions:
        rows.append(PanelRow("renditions", "; ".join(
            " ".join(filter(None, [
                r.name, r.resolution,
                f"{r.bandwidth / 1_000_000:.1f} Mbit/s" if r.bandwidth else "",
                f"({r.segments} segments{', ended' if r.ended else ''})",
            ]))
            for r in status.renditions
        )))  # fmt: skip
    if status.transcoder_running is not None:
        text = transcoder.health_text(stream_id=stream.pk)
        rows.append(PanelRow("transcoder", text, status.transcoder_behind))
    rows += _encoder_rows(stream)
    if status.last_error:
        when = f"{status.last_error_at:%H:%M:%S} UTC: " if status.last_error_at else ""
        rows.append(PanelRow("last error", when + status.last_error, warning=True))
    return rows


def _encoder_rows(stream: Stream) -> list[PanelRow]:
    """The encoder's figures the stream worker measured on the newest segments
    (streaming.health: video, bit rate, keyframe interval, audio, A/V drift), each flagged
    when a warning is about it, then the warnings themselves; nothing while not fresh."""
    figures = health.current_health(stream)
    if figures is None:
        return []
    rows = [PanelRow(row.label, row.value, row.warning) for row in health.rows(figures)]
    return rows + [PanelRow("check", warning, warning=True) for warning in figures.warnings]


def stream_panel(request: HttpRequest, event: Event, can_change: bool) -> dict[str, Any]:
    """The event page's "Stream" panel: the stream's state and health, where an encoder
    sends (RTMP server and OBS's key field, the HLS push URL), OBS's settings, and for
    owners and managers a button for a new key (its page shows the key once) or a link to
    create the stream. Never the key."""
    stream = Stream.objects.filter(event=event).first()
    if stream is None:
        create_url = None
        if can_change and event.status in STREAMABLE:
            create_url = f"{reverse('admin:streaming_stream_add')}?event={event.pk}"
        return {"stream": None, "create_url": create_url}
    push = stream.mode == StreamMode.PUSH
    return {
        "stream": stream,
        "push": push,
        "health": _health_rows(stream),
        "rtmp_server": encoderhelp.rtmp_server(),
        "obs_stream_key": encoderhelp.obs_stream_key(stream),
        "ingest_url": encoderhelp.hls_ingest_url(stream) + "/",
        "obs_settings": encoderhelp.obs_encoding(stream) if push else [],
        "can_rotate": can_change and push and stream.state != StreamState.ENDED,
        "live": selectors.effective_state(stream) == StreamState.LIVE,
        "stream_url": reverse("admin:streaming_stream_change", args=[stream.pk]),
    }


EventAdmin.add_panel(EventPanel("streaming/admin/event_stream_panel.html", stream_panel))
