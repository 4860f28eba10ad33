"""Registrations: read-only for the campaign's staff, with a CSV export."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from events import exports
from events.admin.scoping import CampaignScopedAdmin
from events.models import Registration

log = logging.getLogger(__name__)

HEADER = ["event", "event_slug", "name", "email", "registered_at", "confirmation_sent_at"]


@admin.action(description="Export selected registrations (CSV)")
def export_registrations(
    modeladmin: admin.ModelAdmin[Registration],
    request: HttpRequest,
    queryset: QuerySet[Registration],
) -> HttpResponse:
    # The queryset is the admin's, so it holds only the staff member's campaigns' rows.
    rows = list(queryset.select_related("event").order_by("event_id", "created_at"))
    log.info("registrations exported", extra={"user_id": request.user.pk, "rows": len(rows)})
    return exports.csv_response(
        "registrations.csv",
        HEADER,
        (
            [
                row.event.title,
                row.event.slug,
                row.name,
                row.email,
                row.created_at.isoformat(),
                row.confirmation_sent_at.isoformat() if row.confirmation_sent_at else "",
            ]
            for row in rows
        ),
    )


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
