"""Streams in the staff admin, scoped to the staff's campaigns like events.

The stream key is stored hashed, so it is shown once: on the page that answers creating the
stream or rotating its key (with a copy button), never again and never in a message or log.
"""

from __future__ import annotations

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
from events.admin.scoping import CampaignScopedAdmin
from events.models import Event, EventStatus
from streaming import selectors, services, teststream, transcoder
from streaming.models import Stream, StreamMode, StreamState


class StreamForm(forms.ModelForm[Stream]):
    """A relay URL is checked as the relay would fetch it (events.outbound): when a relay
    stream is created or its URL changes, a URL the relay would refuse is a form error."""

    class Meta:
        model = Stream
        fields = ["event", "mode", "relay_url", "dvr", "record", "ladder", "signed_playback"]
        # A URL typed without a scheme is taken as https (Django 6's default, said now).
        formfield_callback = lambda field, **kw: field.formfield(  # noqa: E731
            **({"assume_scheme": "https"} if isinstance(field, models.URLField) else {}), **kw
        )

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
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # Signed playback, and the ladder once the stream exists.
        if obj is None:
            return ["event", "mode", "relay_url", "dvr", "record", "signed_playback"]
        return ["event", "mode", "relay_url", "dvr", "record", "ladder", "signed_playback",
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
                status__in=[EventStatus.DRAFT, EventStatus.SCHEDULED, EventStatus.LIVE],
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
        return f"Server {settings.RTMP_PUBLIC_URL}, Stream Key {obj.public_id}?key=<stream key>"

    @admin.display(description="transcoder")
    def transcoder_health(self, obj: Stream) -> str:
        return transcoder.health_text(stream_id=obj.pk)

    @admin.display(description="master playlist")
    def playlist_url(self, obj: Stream) -> str:
        return settings.SITE_URL + selectors.master_path(obj.public_id)

    # --- creating, rotating, ending ----------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Stream, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["relay_url"])
            services.set_delivery_options(
                stream_id=obj.pk, ladder=obj.ladder, signed_playback=obj.signed_playback
            )
            return
        stream, key = services.create_stream(
            event_id=obj.event_id, mode=obj.mode, relay_url=obj.relay_url, dvr=obj.dvr,
            record=obj.record,
        )  # fmt: skip
        services.set_delivery_options(
            stream_id=stream.pk, ladder=obj.ladder, signed_playback=obj.signed_playback
        )
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
        return [
            path("<int:object_id>/rotate-key/", rotate, name="streaming_stream_rotate_key"),
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

    def end_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        stream = self._changeable(request, object_id)
        services.end_stream(stream_id=stream.pk, reason="staff")
        self.message_user(request, f"The stream of “{stream.event}” has ended.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:streaming_stream_change", args=[stream.pk]))

    def _key_page(self, request: HttpRequest, stream: Stream, key: str) -> HttpResponse:
        ingest = f"{settings.SITE_URL}/streaming/ingest/{stream.public_id}"
        example = teststream.push_command(
            ingest_url=ingest, key=key, target_duration=stream.target_duration, ffmpeg="ffmpeg"
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Stream key",
            "stream": stream,
            "key": key,
            "ingest_url": ingest + "/",
            "example": " ".join(
                f"'{arg}'" if (" " in arg or ";" in arg or "\r" in arg) else arg for arg in example
            ).replace("\r\n", ""),
            "change_url": reverse("admin:streaming_stream_change", args=[stream.pk]),
            "opts": self.model._meta,
        }
        response = render(request, "streaming/admin/stream_key.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def change_page_context(self, request: HttpRequest, obj: Stream) -> dict[str, Any]:
        return {"can_manage_stream": self.has_change_permission(request, obj)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stream]:
        return super().get_queryset(request).select_related("event")
