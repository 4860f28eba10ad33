"""Registrations: read-only for the campaign's staff, with a CSV export."""

from __future__ import annotations

import csv
import logging
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from events.admin.scoping import CampaignScopedAdmin
from events.models import Registration

_registration_log = logging.getLogger(__name__)
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
