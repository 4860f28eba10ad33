"""Simulcast destinations as an inline of the event's change page (EventAdmin.add_inline).

The stream key is write-only: a password field that is never filled in again ("Replace the
key" on a saved destination, empty to keep it). The form checks the server URL as the
runner will (services.check_destination: rtmp(s) only, public hosts only) and the formset
the limit of five; saving goes through the services, which seal the key.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html

from events.admin.event import EventAdmin, EventRowInline
from events.models import Event
from streaming.models import SimulcastDestination, SimulcastState
from streaming.simulcast import services


class DestinationForm(forms.ModelForm[SimulcastDestination]):
    key = forms.CharField(
        label="stream key",
        required=False,
        strip=True,
        max_length=services.MAX_KEY_LENGTH,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="As the platform shows it. Stored encrypted and never shown again; on a "
        "saved destination, type a new one to replace it (empty keeps it).",
    )

    class Meta:
        model = SimulcastDestination
        fields = ["service", "url", "key", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The tabular inline shows one header for every row: the saved rows say it here.
            self.fields["key"].widget.attrs["placeholder"] = "Stored. Type to replace the key"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("DELETE") or not self.has_changed():
            return data
        try:
            data["url"] = services.check_destination(
                service=data.get("service", ""), url=data.get("url", "")
            )
        except ValidationError as exc:
            self.add_error("url" if exc.code != "service" else "service", exc)
        typed = data.get("key", "")
        if typed or not self.instance.pk:
            try:
                data["key"] = services.check_key(typed)
            except ValidationError as exc:
                self.add_error("key", exc)
        return data


def _change(form: forms.ModelForm[SimulcastDestination]) -> services.DestinationChange:
    data = form.cleaned_data
    return services.DestinationChange(
        service=data["service"], url=data["url"], enabled=bool(data.get("enabled")),
        key=data.get("key") or None,
    )  # fmt: skip


class DestinationFormSet(
    BaseInlineFormSet[SimulcastDestination, Event, forms.ModelForm[SimulcastDestination]]
):
    """Saves through the services: the key sealed, the limit of five held under the event's
    lock, every change logged without the key."""

    def clean(self) -> None:
        super().clean()
        kept = [
            form for form in self.forms
            if form.is_valid() and not form.cleaned_data.get("DELETE")
            and (form.instance.pk or form.has_changed())
        ]  # fmt: skip
        if len(kept) > services.MAX_DESTINATIONS:
            raise ValidationError(
                f"An event streams to at most {services.MAX_DESTINATIONS} destinations: "
                "remove one first."
            )

    def save_new(
        self, form: forms.ModelForm[SimulcastDestination], commit: bool = True
    ) -> SimulcastDestination:
        return services.add_destination(event_id=self.instance.pk, change=_change(form))

    def save_existing(
        self,
        form: forms.ModelForm[SimulcastDestination],
        obj: SimulcastDestination,
        commit: bool = True,
    ) -> SimulcastDestination:
        return services.update_destination(destination_id=obj.pk, change=_change(form))

    def delete_existing(self, obj: SimulcastDestination, commit: bool = True) -> None:
        services.remove_destination(destination_id=obj.pk)


class SimulcastInline(EventRowInline):
    model = SimulcastDestination
    form = DestinationForm
    formset = DestinationFormSet
    extra = 1
    max_num = services.MAX_DESTINATIONS
    fields = ["service", "url", "key", "enabled", "status"]
    readonly_fields = ["status"]
    verbose_name = "simulcast destination"
    verbose_name_plural = (
        "Simulcast: the show copied to YouTube, Facebook, Twitch or any RTMP server while it "
        f"is live (at most {services.MAX_DESTINATIONS})"
    )

    @admin.display(description="state")
    def status(self, obj: SimulcastDestination) -> str:
        if obj.pk is None:
            return "—"
        state = str(SimulcastState(obj.state).label)
        if obj.state in (SimulcastState.RETRYING, SimulcastState.FAILED) and obj.last_error:
            return format_html("{} (try {}): {}", state, obj.tries, obj.last_error)
        return state

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if not self._may_change(request, obj):
            return ["service", "url", "enabled", "status"]  # read-only: no key field at all
        return list(self.fields)


EventAdmin.add_inline(SimulcastInline)
