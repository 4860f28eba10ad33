"""The staff's tool. Staff see and change only their own campaigns' objects; superusers all.

Scoping is done once, in CampaignScopedAdmin.get_queryset: lists, change pages, actions and
autocomplete all read through it, and an object outside it is a 404, not a redirect.
"""

from __future__ import annotations

import csv
import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from events import dashboard, selectors, services
from events.fields import format_major
from events.models import (
    CURRENCY_SYMBOLS,
    TRANSITIONS,
    Attestation,
    Campaign,
    CapacityTier,
    Event,
    EventStatus,
    InvalidTransition,
    Membership,
    Registration,
    Role,
)

admin.site.site_header = "Pledgecast staff"
admin.site.site_title = "Pledgecast"
admin.site.index_title = "Campaigns, events and donations"


def _member_ids(request: HttpRequest, *, write: bool) -> set[int]:
    # Cached per request: every permission check of one page asks the same question.
    cache_name = "_pledgecast_write_ids" if write else "_pledgecast_read_ids"
    if not hasattr(request, cache_name):
        setattr(request, cache_name, selectors.staff_campaign_ids(user=request.user, write=write))
    return getattr(request, cache_name)  # type: ignore[no-any-return]


def _owner_ids(request: HttpRequest) -> set[int]:
    if not hasattr(request, "_pledgecast_owner_ids"):
        ids = set(
            Membership.objects.filter(user_id=request.user.pk or 0, role=Role.OWNER).values_list(
                "campaign_id", flat=True
            )
        )
        request._pledgecast_owner_ids = ids  # type: ignore[attr-defined]
    return request._pledgecast_owner_ids  # type: ignore[attr-defined,no-any-return]


class CampaignScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A ModelAdmin whose objects belong to a campaign through `campaign_path`."""

    campaign_path = "campaign"

    def _campaign_id(self, obj: Any) -> int:
        if self.campaign_path == "pk":
            return int(obj.pk)
        value = obj
        for part in self.campaign_path.split("__"):
            value = getattr(value, part)
        return int(value.pk)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.campaign_path}__in": _member_ids(request, write=False)})

    def _is_staff(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_staff(request) and (
            request.user.is_superuser or bool(_member_ids(request, write=False))
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not self._is_staff(request):
            return False
        if request.user.is_superuser:
            return True
        ids = _member_ids(request, write=False)
        return bool(ids) if obj is None else self._campaign_id(obj) in ids

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not self._is_staff(request):
            return False
        if request.user.is_superuser:
            return True
        ids = _member_ids(request, write=True)
        return bool(ids) if obj is None else self._campaign_id(obj) in ids

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not self._is_staff(request):
            return False
        if request.user.is_superuser:
            return True
        ids = _owner_ids(request)
        return bool(ids) if obj is None else self._campaign_id(obj) in ids

    def _require_visible(self, request: HttpRequest, object_id: str) -> None:
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404("No such object.")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self._require_visible(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.name == "campaign" and not request.user.is_superuser:
            kwargs["queryset"] = Campaign.objects.filter(id__in=_member_ids(request, write=True))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MembershipForm(forms.ModelForm[Membership]):
    user: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True),
        to_field_name="username",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        label="Username",
        error_messages={"invalid_choice": "No active user has that username."},
    )

    class Meta:
        model = Membership
        fields = ["user", "role"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The field is keyed by username: show the username, not the primary key.
            self.initial["user"] = self.instance.user.get_username()


class MembershipInline(admin.TabularInline[Membership, Campaign]):
    model = Membership
    form = MembershipForm
    extra = 0
    verbose_name = "staff member"
    verbose_name_plural = "staff"

    def _is_owner(self, request: HttpRequest, obj: Campaign | None) -> bool:
        if request.user.is_superuser:
            return True
        return obj is not None and obj.pk in _owner_ids(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # the parent admin decides who sees the campaign

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_owner(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_owner(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_owner(request, obj)


class AttestationInline(admin.TabularInline[Attestation, Campaign]):
    model = Attestation
    extra = 0
    fields = ["text", "position"]
    formfield_overrides = {
        models.CharField: {"widget": forms.TextInput(attrs={"size": 90})},
    }

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and CampaignAdmin.can_edit(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and CampaignAdmin.can_edit(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and CampaignAdmin.can_edit(request, obj)


@admin.register(Campaign)
class CampaignAdmin(CampaignScopedAdmin):
    campaign_path = "pk"
    list_display = ["name", "legal_name", "currency", "limit_display", "created_at"]
    list_filter = ["currency"]
    search_fields = ["name", "slug", "legal_name"]
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ["created_at"]
    inlines = [AttestationInline, MembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "legal_name", "currency", "created_at"]}),
        (
            "Giving rules",
            {
                "fields": [
                    "min_donation_minor",
                    "max_donation_minor",
                    "per_donor_limit_minor",
                    "monthly_enabled",
                ]
            },
        ),
        (
            "Required donor details",
            {
                "fields": [
                    "require_name",
                    "require_email",
                    "require_address",
                    "require_employer",
                    "require_occupation",
                ]
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return qs
        return qs.filter(id__in=_member_ids(request, write=False))

    @staticmethod
    def can_edit(request: HttpRequest, obj: Campaign) -> bool:
        # Campaign rules (limits, required details, staff) are the owners' to change.
        return bool(request.user.is_superuser or obj.pk in _owner_ids(request))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not self._is_staff(request):
            return False
        if obj is None:
            return bool(request.user.is_superuser or _owner_ids(request))
        return self.can_edit(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New campaigns are set up by the operator, who then names their owners.
        return bool(self._is_staff(request) and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A campaign carries its donation records: only the operator removes one.
        return bool(self._is_staff(request) and request.user.is_superuser)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.events.exclude(status=EventStatus.DRAFT).exists():
            # Donations are recorded in this currency: changing it would mix units.
            fields.append("currency")
        return fields

    @admin.display(description="per-donor limit")
    def limit_display(self, obj: Campaign) -> str:
        if obj.per_donor_limit_minor is None:
            return "—"
        return CURRENCY_SYMBOLS.get(obj.currency, "") + format_major(obj.per_donor_limit_minor)


@admin.register(CapacityTier)
class CapacityTierAdmin(admin.ModelAdmin[CapacityTier]):
    """Tiers are the operator's: staff may read them (to pick one), superusers change them."""

    list_display = ["name", "max_attendees", "price_display"]
    ordering = ["max_attendees"]
    search_fields = ["name"]

    @admin.display(description="price")
    def price_display(self, obj: CapacityTier) -> str:
        if obj.price_minor is None:
            return "set by the operator"
        return CURRENCY_SYMBOLS.get(obj.price_currency, "") + f"{obj.price_minor // 100:,}"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    has_add_permission = has_module_permission

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


def _run_transition(
    modeladmin: admin.ModelAdmin[Event],
    request: HttpRequest,
    queryset: QuerySet[Event],
    service: Any,
    verb: str,
) -> None:
    done, refused = 0, []
    write_ids = _member_ids(request, write=True)
    for event in queryset:
        if not request.user.is_superuser and event.campaign_id not in write_ids:
            refused.append(f"“{event.title}”: your role on this campaign is view-only.")
            continue
        try:
            service(event_id=event.pk)
        except InvalidTransition as exc:
            refused.append(exc.messages[0])
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{done} event(s) {verb}.", messages.SUCCESS)
    for message in refused:
        modeladmin.message_user(request, message, messages.ERROR)


@admin.action(description="Schedule selected events")
def schedule_events(
    modeladmin: admin.ModelAdmin[Event], request: HttpRequest, qs: QuerySet[Event]
) -> None:
    _run_transition(modeladmin, request, qs, services.schedule_event, "scheduled")


@admin.action(description="Go live with selected events")
def start_events(
    modeladmin: admin.ModelAdmin[Event], request: HttpRequest, qs: QuerySet[Event]
) -> None:
    _run_transition(modeladmin, request, qs, services.start_event, "now live")


@admin.action(description="End selected live events")
def end_events(
    modeladmin: admin.ModelAdmin[Event], request: HttpRequest, qs: QuerySet[Event]
) -> None:
    _run_transition(modeladmin, request, qs, services.end_event, "ended")


@admin.action(description="Cancel selected events")
def cancel_events(
    modeladmin: admin.ModelAdmin[Event], request: HttpRequest, qs: QuerySet[Event]
) -> None:
    _run_transition(modeladmin, request, qs, services.cancel_event, "cancelled")


@admin.register(Event)
class EventAdmin(CampaignScopedAdmin):
    list_display = [
        "title",
        "campaign",
        "status",
        "starts_at",
        "capacity_tier",
        "goal_display",
        "visibility",
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
    actions = [schedule_events, start_events, end_events, cancel_events]
    fieldsets = [
        (None, {"fields": ["campaign", "title", "slug", "description", "visibility"]}),
        ("When", {"fields": ["starts_at", "ends_at"]}),
        (
            "Audience and money",
            {
                "fields": [
                    "capacity_tier",
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
            if obj.status in (EventStatus.ENDED, EventStatus.CANCELLED):
                fields += ["starts_at", "ends_at", "capacity_tier", "goal_minor"]
        return fields

    # The lifecycle buttons on the change page: (target status, label, service).
    LIFECYCLE = [
        (EventStatus.SCHEDULED, "Schedule", services.schedule_event),
        (EventStatus.LIVE, "Go live now", services.start_event),
        (EventStatus.ENDED, "End the event", services.end_event),
        (EventStatus.CANCELLED, "Cancel the event", services.cancel_event),
    ]

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(require_POST(self.transition_view))
        dashboard_view = self.admin_site.admin_view(self.dashboard_view)
        return [
            path("<int:object_id>/transition/<str:to>/", view, name="events_event_transition"),
            path("<int:object_id>/dashboard/", dashboard_view, name="events_event_dashboard"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return dashboard.dashboard_view(self, request, object_id)

    @admin.display(description="dashboard")
    def dashboard_link(self, obj: Event) -> str:
        url = reverse("admin:events_event_dashboard", args=[obj.pk])
        return format_html('<a href="{}">Live dashboard</a>', url)

    def transition_view(self, request: HttpRequest, object_id: int, to: str) -> HttpResponse:
        event = self.get_object(request, str(object_id))
        if event is None:
            raise Http404("No such event.")
        if not self.has_change_permission(request, event):
            raise PermissionDenied
        services_by_status = {status: service for status, _, service in self.LIFECYCLE}
        if to not in services_by_status:
            raise Http404("No such status.")
        try:
            services_by_status[EventStatus(to)](event_id=event.pk)
        except InvalidTransition as exc:
            self.message_user(request, exc.messages[0], messages.ERROR)
        else:
            self.message_user(
                request,
                f"“{event.title}” is now {EventStatus(to).label.lower()}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:events_event_change", args=[event.pk]))

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and self.has_change_permission(request, obj):
            allowed = TRANSITIONS[EventStatus(obj.status)]
            context["lifecycle_actions"] = [
                {"to": status.value, "label": label, "default": status != EventStatus.CANCELLED}
                for status, label, _ in self.LIFECYCLE
                if status in allowed
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

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

    @admin.display(description="goal", ordering="goal_minor")
    def goal_display(self, obj: Event) -> str:
        return CURRENCY_SYMBOLS.get(obj.campaign.currency, "") + f"{obj.goal_minor // 100:,}"


# --- Registrations (issue 7): read-only for the campaign's staff, with a CSV export -----------

_registration_log = logging.getLogger("events.admin.registrations")
# A cell a spreadsheet would run as a formula gets a leading ' (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.action(description="Export selected registrations (CSV)")
def export_registrations(
    modeladmin: admin.ModelAdmin[Registration],
    request: HttpRequest,
    queryset: QuerySet[Registration],
) -> HttpResponse:
    # The queryset is the admin's, so it holds only the staff member's campaigns' rows.
    rows = list(queryset.select_related("event").order_by("event_id", "created_at"))
    writer = csv.writer(_Echo())
    header = ["event", "event_slug", "name", "email", "registered_at", "confirmation_sent_at"]
    lines = [writer.writerow(header)]
    for row in rows:
        sent = row.confirmation_sent_at.isoformat() if row.confirmation_sent_at else ""
        lines.append(
            writer.writerow(
                [
                    _csv_cell(row.event.title),
                    row.event.slug,
                    _csv_cell(row.name),
                    _csv_cell(row.email),
                    row.created_at.isoformat(),
                    sent,
                ]
            )
        )
    _registration_log.info(
        "registrations exported", extra={"user_id": request.user.pk, "rows": len(rows)}
    )
    response = HttpResponse("".join(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="registrations.csv"'
    response["Cache-Control"] = "no-store"
    return response


@admin.register(Registration)
class RegistrationAdmin(CampaignScopedAdmin):
    """Who registered for the staff member's campaigns' events. Read-only: registrations are
    the attendees' own; the token (their key) is never shown."""

    campaign_path = "event__campaign"
    list_display = ["email", "name", "event", "created_at", "confirmation_sent_at"]
    list_filter = [("event", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["event"]
    search_fields = ["email"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = [export_registrations]
    fields = ["event", "name", "email", "created_at", "confirmation_sent_at"]
    readonly_fields = ["event", "name", "email", "created_at", "confirmation_sent_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
