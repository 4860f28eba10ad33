"""The event's report (liveroom/report.py) as a page and as CSV downloads.

`/staff/events/<id>/report/`, `report.csv` (one row per minute) and `report-moments.csv` (one
row per moment): staff of the event's campaign, every role (viewer members read it too);
anything else is a 404, as the dashboard (`events.selectors.access_staff_event`). Times on the
page are in the staff member's zone (the dashboard's cookie); the CSVs are in UTC.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from donations.selectors import milestone_crossings
from events import exports
from events import selectors as event_selectors
from events.models import Event
from events.money import MINOR_PER_MAJOR
from liveroom import report
from liveroom.dashboard import staff_zone


def _report(request: HttpRequest, event: Event) -> report.Report:
    milestones = [
        report.ReportMoment(at=crossing.at, kind="milestone", title=f"Milestone: {crossing.label}")
        for crossing in milestone_crossings(event_id=event.pk)
    ]
    return report.build_report(
        event=event, zone=staff_zone(request), now=timezone.now(), extra_moments=milestones
    )


def _major(amount_minor: int) -> Decimal:
    return (Decimal(amount_minor) / MINOR_PER_MAJOR).quantize(Decimal("0.01"))


@require_safe
@never_cache
@staff_member_required
def report_view(request: HttpRequest, event_id: int) -> HttpResponse:
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    context = {
        **admin.site.each_context(request),
        "opts": Event._meta,
        "original": event,
        "event": event,
        "report": _report(request, event),
        "title": f"Report: {event.title}",
    }
    return TemplateResponse(request, "liveroom/report.html", context)


MINUTE_HEADER = (
    "minute_utc", "raised", "donations", "donors", "viewers", "reactions", "questions", "moments",
)  # fmt: skip
MOMENT_HEADER = (
    "number", "at_utc", "kind", "moment", "window_minutes", "raised", "donations", "donors",
    "viewer_minutes", "dollars_per_viewer_minute",
)  # fmt: skip


@require_safe
@never_cache
@staff_member_required
def report_csv(request: HttpRequest, event_id: int) -> HttpResponse:
    """One row per minute: money in the event's currency (major units), viewers the minute's
    average, the moments marked in it."""
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    built = _report(request, event)
    rows = (
        (
            r.start.isoformat(),
            _major(r.raised_minor),
            r.donations,
            r.donors,
            r.viewers,
            r.reactions,
            r.questions,
            "; ".join(r.moments),
        )
        for r in built.minutes
    )
    return exports.csv_response(f"event-{event.pk}-report.csv", MINUTE_HEADER, rows)


@require_safe
@never_cache
@staff_member_required
def moments_csv(request: HttpRequest, event_id: int) -> HttpResponse:
    """One row per moment with the money, donors and viewer-minutes of the window after it."""
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    built = _report(request, event)
    rows = (
        (
            m.number,
            m.at.astimezone(UTC).isoformat(),
            m.kind,
            m.title,
            built.window_minutes,
            _major(m.raised_minor),
            m.donations,
            m.donors,
            m.viewer_minutes,
            "" if m.per_viewer_minute is None else m.per_viewer_minute,
        )
        for m in built.moments
    )
    return exports.csv_response(f"event-{event.pk}-moments.csv", MOMENT_HEADER, rows)
