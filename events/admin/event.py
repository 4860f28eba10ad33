"""Events in the admin: scheduling, the lifecycle (events.admin.lifecycle), the link to the
live room's staff dashboard (by URL name: the admin imports nothing above events), and the
panels and inlines the apps above events add to an event's change page (EventPanel,
EventAdmin.add_inline)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from events import services
from events.admin import lifecycle
from events.admin.scoping import CampaignScopedAdmin
from events.models import TRANSITIONS, Event, EventStatus, InvalidTransition
from events.money import format_money

DASHBOARD_URL = "liveroom:dashboard"


@dataclass(frozen=True)
class EventPanel:
    """A panel of the event's change page that an app above events contributes (the stream's,
    from streaming/admin.py): events imports none of those apps, they add their panels here
    with EventAdmin.add_panel when their admin module loads.

    `context(request, event, can_change)` returns the template's context (as `panel`), or
    None to leave the panel out; `can_change` says whether the user may change the event
    (owners and managers; viewers only read). It runs for every user who may view the event,
    so it must decide its buttons by `can_change`, and it must not put secrets on the page.
    """

    template: str
    context: Callable[[HttpRequest, Event, bool], dict[str, Any] | None]


@admin.register(Event)
class EventAdmin(CampaignScopedAdmin):
    # Fits a 1366 px laptop beside the admin's menu and the filters: visibility and the tier are
    # filters, and the campaign's name wraps (the admin never wraps a foreign key's cell).
    list_display = [
        "title",
        "campaign_name",
        "status",
        "starts_at",
        "goal_display",
        "dashboard_link",
    ]
    list_filter = [
        "status",
        "visibility",
        "registration_required",
        ("campaign", admin.RelatedOnlyFieldListFilter),
        "capacity_tier",
    ]
    list_select_related = ["campaign", "capacity_tier"]
    search_fields = ["title", "slug", "campaign__name"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["campaign"]
    prepopulated_fields = {"slug": ("title",)}
    actions = lifecycle.ACTIONS
    panels: ClassVar[list[EventPanel]] = []
    # Inlines of the apps above events (streaming's simulcast destinations): change page only.
    extra_inlines: ClassVar[list[type[admin.options.InlineModelAdmin[Any, Any]]]] = []
    fieldsets = [
        (None, {"fields": ["campaign", "title", "slug", "description", "visibility"]}),
        ("When", {"fields": ["starts_at", "ends_at"]}),
        (
            "The show",
            {"fields": ["go_live_automatically", "auto_end_minutes", "giving_window_days"]},
        ),
        (
            "Audience and money",
            {
                "fields": [
                    "capacity_tier",
                    "auto_upgrade_tier",
                    "registration_required",
                    "goal_minor",
                    "suggested_amounts",
                ]
            },
        ),
        (
            "Status",
            {"fields": ["status", "went_live_at", "ended_at", "created_at", "updated_at"]},
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["status", "went_live_at", "ended_at", "created_at", "updated_at"]
        if obj is not None:
            # An event's donations belong to its campaign: it never moves to another one.
            fields.append("campaign")
            if obj.status != EventStatus.DRAFT:
                # Its address has been shared once it is scheduled.
                fields.append("slug")
            if _is_over(obj):
                # The goal as money ("$25,000"), not the stored minor units.
                fields += [
                    "starts_at", "ends_at", "capacity_tier", "auto_upgrade_tier", "goal_display"
                ]  # fmt: skip
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None or not _is_over(obj):
            return fieldsets
        return [
            (name, {**options, "fields": [
                "goal_display" if field == "goal_minor" else field for field in options["fields"]
            ]})
            for name, options in fieldsets
        ]  # fmt: skip

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(require_POST(self.transition_view))
        dashboard = self.admin_site.admin_view(self.dashboard_redirect)
        return [
            path("<int:object_id>/transition/<str:to>/", view, name="events_event_transition"),
            # The live dashboard is the live room's staff page; old links still get there.
            path("<int:object_id>/dashboard/", dashboard, name="events_event_dashboard"),
            *super().get_urls(),
        ]

    def dashboard_redirect(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return HttpResponseRedirect(reverse(DASHBOARD_URL, args=[object_id]))

    @admin.display(description="dashboard")
    def dashboard_link(self, obj: Event) -> str:
        return format_html('<a href="{}">Live dashboard</a>', reverse(DASHBOARD_URL, args=[obj.pk]))

    def transition_view(self, request: HttpRequest, object_id: int, to: str) -> HttpResponse:
        event = self.get_object(request, str(object_id))
        if event is None:
            raise Http404("No such event.")
        if not self.has_change_permission(request, event):
            raise PermissionDenied
        step = lifecycle.BY_STATUS.get(to)
        if step is None:
            raise Http404("No such status.")
        try:
            step.service(event_id=event.pk)
        except InvalidTransition as exc:
            self.message_user(request, exc.messages[0], messages.ERROR)
        else:
            self.message_user(
                request,
                f"“{event.title}” is now {EventStatus(to).label.lower()}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:events_event_change", args=[event.pk]))

    @classmethod
    def add_panel(cls, panel: EventPanel) -> None:
        """Show `panel` on every event's change page, after the lifecycle buttons, in the
        order added (once, however often its module is imported)."""
        if panel not in cls.panels:
            cls.panels.append(panel)

    @classmethod
    def add_inline(cls, inline: type[admin.options.InlineModelAdmin[Any, Any]]) -> None:
        """Show `inline` (an app above events: its model has a foreign key to Event) on every
        event's change page, after the event's fields (once, however often its module is
        imported). The inline decides its own permissions."""
        if inline not in cls.extra_inlines:
            cls.extra_inlines.append(inline)

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None:
            return list(self.inlines)
        return [*self.inlines, *self.extra_inlines]

    def change_page_context(self, request: HttpRequest, obj: Event) -> dict[str, Any]:
        can_change = self.has_change_permission(request, obj)
        panels = []
        for panel in self.panels:
            context = panel.context(request, obj, can_change)
            if context is not None:
                panels.append({"template": panel.template, "context": context})
        if not can_change:
            return {"event_panels": panels}
        allowed = TRANSITIONS[EventStatus(obj.status)]
        return {
            "event_panels": panels,
            "lifecycle_actions": [
                {
                    "to": step.to.value,
                    "label": step.button,
                    "default": step.to != EventStatus.CANCELLED,
                }
                for step in lifecycle.LIFECYCLE
                if step.to in allowed
            ],
        }

    def save_model(self, request: HttpRequest, obj: Event, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            services.announce_event_edit(event_id=obj.pk)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only an event that never happened can be deleted; the others are history.
        if obj is not None and obj.status not in (EventStatus.DRAFT, EventStatus.CANCELLED):
            return False
        return super().has_delete_permission(request, obj)

    def get_prepopulated_fields(self, request: HttpRequest, obj: Any = None) -> dict[str, Any]:
        if obj is not None and obj.status != EventStatus.DRAFT:
            return {}
        return dict(self.prepopulated_fields)

    @admin.display(description="campaign", ordering="campaign__name")
    def campaign_name(self, obj: Event) -> str:
        return obj.campaign.name

    @admin.display(description="goal", ordering="goal_minor")
    def goal_display(self, obj: Event) -> str:
        return format_money(obj.goal_minor, obj.campaign.currency, grouped=True)


def _is_over(event: Event) -> bool:
    return event.status in (EventStatus.ENDED, EventStatus.CANCELLED)


class EventRowInline(admin.TabularInline):  # type: ignore[type-arg]
    """The base of the inlines other apps add to the event's page (EventAdmin.add_inline): a
    row of the event may be added, changed or deleted by whoever may change the event (owners
    and managers, through EventAdmin's campaign scoping); anyone who sees the event sees it."""

    extra = 1

    def _may_change(self, request: HttpRequest, obj: Any) -> bool:
        parent = self.admin_site._registry[Event]
        return obj is not None and parent.has_change_permission(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # the event's admin decides who sees the event

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request, obj)
