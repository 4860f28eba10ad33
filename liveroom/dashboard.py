"""The staff's live dashboard of an event: money, viewers and the stream, at a glance.

`/staff/events/<id>/dashboard/` is for staff of the event's campaign (viewer members included;
superusers: any event); anything else is a 404 (`events.selectors.access_staff_event`). The
event's admin page links here by URL name. The page polls `?fragment=1` every 5 s
(static/js/dashboard.js), which renders only the panels. Times are shown in the staff
member's own time zone, which dashboard.js puts in the `pc_tz` cookie (UTC without it).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import redis
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from donations import selectors as donation_selectors
from engagement import moments, reactions
from engagement import selectors as engagement_selectors
from engagement.models import POLL_MAX_OPTIONS
from events import selectors as event_selectors
from events.models import Event, EventStatus
from liveroom import capacityviews, greenroom, staffactions
from liveroom.charts import Chart, money, per_minute_chart, raised_chart, viewers_chart
from streaming import selectors as stream_selectors
from streaming.simulcast import selectors as simulcast_selectors

TZ_COOKIE = "pc_tz"
_TZ_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
MAX_WINDOW = timedelta(hours=12)
MIN_WINDOW = timedelta(minutes=10)
BARS_WINDOW = timedelta(minutes=60)
TOP_REFCODES = 8
RECENT_DONATIONS = 12
REPORT_WINDOW_MINUTES = 5  # liveroom/report.py's window after each moment


@require_safe
@never_cache
@staff_member_required
def dashboard_view(request: HttpRequest, event_id: int) -> HttpResponse:
    """The page, or with `?fragment=1` its panels alone. Signed-out visitors go to the admin's
    login; an event outside the staff member's campaigns is a 404."""
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    return render_dashboard(request, event)


def render_dashboard(
    request: HttpRequest, event: Event, *, extra: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """The dashboard (or with `?fragment=1` its panels) of an event the staff member may see;
    `extra` context and `status` for a form sent back with its error (a poll's)."""
    panels = build_panels(event=event, zone=staff_zone(request), now=timezone.now())
    # The show's buttons, for its owners and managers (greenroom.py checks again).
    may_run = staffactions.may_change(user=request.user, event=event)
    context: dict[str, Any] = {
        "panels": panels,
        "event": event,
        "controls": greenroom.controls_for(event=event) if may_run else [],
        "view_only": not may_run,
        # The room's questions and polls (liveroom/engagementviews.py takes the buttons).
        "room": engagement_selectors.staff_room(
            event_id=event.pk, mask=event.campaign.ticker_profanity_filter
        ),
        "polls": engagement_selectors.staff_polls(event_id=event.pk),
        "reactions": _recent_reactions(event.pk),
        "poll_form": {"question": "", "options": [""] * POLL_MAX_OPTIONS, "error": ""},
        "asks": [
            (ask, money(ask.amount_minor, event.campaign.currency))
            for ask in engagement_selectors.staff_asks(event_id=event.pk)
        ],
        "ask_form": {"text": "", "amount": "", "tag": "", "error": ""},
        # "Mark a moment": a fresh key per page, so a double press records one moment.
        "moment_form": {
            "kind": "speaker",
            "label": "",
            "key": secrets.token_urlsafe(16),
            "error": "",
        },
        "moment_kinds": [(k.value, k.label) for k in moments.STAFF_KINDS],
        "report_window": REPORT_WINDOW_MINUTES,
        # The audience against the tier, the latest capacity notice, an owner's larger tiers.
        "capacity": capacityviews.capacity_panel(
            event=event, viewers=panels.viewers, user=request.user
        ),
        **(extra or {}),
    }
    if not request.GET.get("fragment"):
        context["encoder"] = greenroom.encoder_help(event=event)
    if request.GET.get("fragment"):
        response = TemplateResponse(request, "liveroom/dashboard_panels.html", context)
        response["X-Dashboard-Fragment"] = "1"  # not the login page after a lost session
    else:
        context.update(
            admin.site.each_context(request),
            opts=Event._meta,
            original=event,
            title=f"Live dashboard: {event.title}",
        )
        response = TemplateResponse(request, "liveroom/dashboard.html", context, status=status)
    return response


REACTION_MINUTES = 5


def _recent_reactions(event_id: int) -> list[tuple[str, int]] | None:
    """(emoji, count) of the last REACTION_MINUTES minutes; None while Redis is away."""
    try:
        counts = reactions.recent_reactions(event_id=event_id, minutes=REACTION_MINUTES)
    except redis.RedisError:
        return None
    return [(reactions.EMOJI[name], n) for name, n in counts.items()]


def staff_zone(request: HttpRequest) -> tzinfo:
    """The browser's IANA time zone from the cookie dashboard.js sets; UTC when absent or
    not a zone we know."""
    name = request.COOKIES.get(TZ_COOKIE, "")
    if len(name) <= 64 and _TZ_NAME.match(name):
        try:
            return ZoneInfo(name)
        except (KeyError, ValueError, OSError):  # not found (a KeyError), a bad key, a folder
            pass
    return UTC


@dataclass(frozen=True)
class RefcodeRow:
    refcode: str
    raised: str
    donations: int
    share: int  # percent of the event's raised money
    after_show: str  # of it, given after the show ("" for none)


@dataclass(frozen=True)
class DonationRow:
    time: str
    name: str
    amount: str
    refcode: str
    status: str
    status_label: str
    donation_id: int = 0
    in_ticker: bool = False
    ticker_hidden: bool = False
    ticker_line: str = ""


@dataclass(frozen=True)
class ShowPanel:
    status: str
    status_label: str
    phases: donation_selectors.ShowPhases
    before: str
    during: str
    after: str
    giving_closes_at: str  # "" while the show has not ended


@dataclass(frozen=True)
class MatchLine:
    matched: str  # every offer's, added
    sponsor: str  # the offer shown: open, else next, else last
    left: str
    cap: str
    is_open: bool


@dataclass(frozen=True)
class Panels:
    show: ShowPanel
    raised: str
    match: MatchLine | None  # None: the event has no match offer
    goal: str
    percent: int
    donors: int
    donations: int
    viewers: int | None  # the latest sample; None when nobody watched in the window
    raised_chart: Chart
    per_minute_chart: Chart
    viewers_chart: Chart
    refcodes: list[RefcodeRow]
    recent: list[DonationRow]
    stream: stream_selectors.StreamHealth | None
    simulcast: list[simulcast_selectors.DestinationRow]
    zone_name: str
    generated: str


def build_panels(*, event: Event, zone: tzinfo, now: datetime) -> Panels:
    currency = event.campaign.currency
    start, end = chart_window(event=event, now=now)
    totals = donation_selectors.event_totals(event_id=event.pk)
    series = donation_selectors.event_raised_series(
        event_id=event.pk, bucket_seconds=60, since=start
    )
    viewers = event_selectors.viewer_series(event_id=event.pk, since=start)
    bars_from = max(start, end - BARS_WINDOW)
    phases = donation_selectors.event_show_phases(
        event_id=event.pk, went_live_at=event.went_live_at, ended_at=event.ended_at
    )
    closes = event.giving_closes_at
    matching = donation_selectors.event_matching(event_id=event.pk, now=now)
    shown = matching.current
    return Panels(
        match=None
        if shown is None
        else MatchLine(
            matched=money(matching.matched_minor, currency),
            sponsor=shown.sponsor,
            left=money(shown.left_minor, currency),
            cap=money(shown.cap_minor, currency),
            is_open=shown.is_open(now),
        ),
        show=ShowPanel(
            status=event.status,
            status_label=event.get_status_display(),
            phases=phases,
            before=money(phases.before_minor, currency),
            during=money(phases.during_minor, currency),
            after=money(phases.after_minor, currency),
            giving_closes_at=closes.astimezone(zone).strftime("%Y-%m-%d %H:%M") if closes else "",
        ),
        raised=money(totals.raised_minor, currency),
        goal=money(event.goal_minor, currency),
        percent=min(999, totals.raised_minor * 100 // max(event.goal_minor, 1)),
        donors=totals.donors,
        donations=totals.donations,
        viewers=viewers[-1].viewers if viewers else None,
        raised_chart=raised_chart(series, start=start, end=end, currency=currency, zone=zone),
        per_minute_chart=per_minute_chart(series, start=bars_from, end=end, zone=zone),
        viewers_chart=viewers_chart(viewers, start=start, end=end, zone=zone),
        refcodes=[
            RefcodeRow(
                refcode=row.refcode,
                raised=money(row.raised_minor, currency),
                donations=row.donations,
                share=round(row.raised_minor * 100 / max(totals.raised_minor, 1)),
                after_show=money(row.after_show_minor, currency) if row.after_show_minor else "",
            )
            for row in donation_selectors.event_top_refcodes(
                event_id=event.pk, limit=TOP_REFCODES, ended_at=event.ended_at
            )
        ],
        recent=[
            DonationRow(
                time=d.succeeded_at.astimezone(zone).strftime("%H:%M:%S"),
                name=d.name,
                amount=money(d.amount_minor, d.currency),
                refcode=d.refcode,
                status=d.status,
                status_label=d.status_label,
                donation_id=d.donation_id,
                in_ticker=d.in_ticker,
                ticker_hidden=d.ticker_hidden,
                ticker_line=d.ticker_line,
            )
            for d in donation_selectors.event_recent_donations(
                event_id=event.pk, limit=RECENT_DONATIONS
            )
        ],
        stream=stream_selectors.stream_health(event_id=event.pk, now=now),
        simulcast=simulcast_selectors.destination_rows(event_id=event.pk),
        zone_name=str(zone),
        generated=now.astimezone(zone).strftime("%H:%M:%S"),
    )


def chart_window(*, event: Event, now: datetime) -> tuple[datetime, datetime]:
    """From going live to now (or to the end), at least 10 minutes, at most the last 12 hours;
    before going live, the last hour."""
    end = event.ended_at if event.status == EventStatus.ENDED and event.ended_at else now
    start = event.went_live_at if event.went_live_at and event.went_live_at < end else None
    start = min(start or end - timedelta(hours=1), end - MIN_WINDOW)
    return max(start, end - MAX_WINDOW), end
