"""The staff's live dashboard of an event (issue 7): money, viewers and the stream, at a glance.

`/admin/events/event/<id>/dashboard/` (EventAdmin.get_urls) is scoped like the event's change
page: staff see their own campaigns' events (viewer members included), anything else is a 404.
The page polls `?fragment=1` every 5 s (static/js/dashboard.js), which renders only the panels.

Charts are server-rendered SVG: this module turns the selectors' series into plot geometry
(numbers and labels); the templates draw it with Django's autoescaping. Times are shown in the
staff member's own time zone, which dashboard.js puts in the `pc_tz` cookie (UTC without it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from donations import selectors as donation_selectors
from events import selectors as event_selectors
from events.fields import format_major
from events.models import CURRENCY_SYMBOLS, Event, EventStatus
from streaming import selectors as stream_selectors

TZ_COOKIE = "pc_tz"
_TZ_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
MAX_WINDOW = timedelta(hours=12)
MIN_WINDOW = timedelta(minutes=10)
BARS_WINDOW = timedelta(minutes=60)
TOP_REFCODES = 8
RECENT_DONATIONS = 12

# The SVG's coordinate box (scaled to the panel's width by CSS).
WIDTH, HEIGHT = 640, 190
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 10, 24
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TIME_STEPS_MIN = (1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720)


# -- the view ----------------------------------------------------------------------------------
def dashboard_view(
    modeladmin: admin.ModelAdmin[Event], request: HttpRequest, object_id: int
) -> HttpResponse:
    """The page, or with `?fragment=1` its panels alone. Wrapped in admin_view (login)."""
    # The change page's own scoping: the admin's queryset, then its view permission.
    event = modeladmin.get_queryset(request).select_related("campaign").filter(pk=object_id).first()
    if event is None or not modeladmin.has_view_permission(request, event):
        raise Http404("No such event.")
    panels = build_panels(event=event, zone=staff_zone(request), now=timezone.now())
    context: dict[str, Any] = {"panels": panels, "event": event}
    if request.GET.get("fragment"):
        response = TemplateResponse(request, "admin/events/event/dashboard_panels.html", context)
        response["X-Dashboard-Fragment"] = "1"  # not the login page after a lost session
    else:
        context.update(
            modeladmin.admin_site.each_context(request),
            opts=Event._meta,
            original=event,
            title=f"Live dashboard: {event.title}",
        )
        response = TemplateResponse(request, "admin/events/event/dashboard.html", context)
    return response  # admin_view adds never_cache


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


# -- what the panels show ----------------------------------------------------------------------
@dataclass(frozen=True)
class Tick:
    pos: float
    label: str
    anchor: str = "middle"  # an x tick's text-anchor: labels at the edges stay inside


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str  # its time, for the tooltip


@dataclass(frozen=True)
class Chart:
    key: str  # element ids
    title: str
    summary: str  # also the SVG's <desc>
    path: str  # a line chart's path ("" for bars)
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    table_head: tuple[str, str]
    table: list[tuple[str, str]]  # the visually hidden data table

    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    baseline: int = TOP + PLOT_H


@dataclass(frozen=True)
class RefcodeRow:
    refcode: str
    raised: str
    donations: int
    share: int  # percent of the event's raised money


@dataclass(frozen=True)
class DonationRow:
    time: str
    name: str
    amount: str
    refcode: str
    status: str
    status_label: str


@dataclass(frozen=True)
class Panels:
    raised: str
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
    return Panels(
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
            )
            for row in donation_selectors.event_top_refcodes(event_id=event.pk, limit=TOP_REFCODES)
        ],
        recent=[
            DonationRow(
                time=d.succeeded_at.astimezone(zone).strftime("%H:%M:%S"),
                name=d.name,
                amount=money(d.amount_minor, d.currency),
                refcode=d.refcode,
                status=d.status,
                status_label=d.status_label,
            )
            for d in donation_selectors.event_recent_donations(
                event_id=event.pk, limit=RECENT_DONATIONS
            )
        ],
        stream=stream_selectors.stream_health(event_id=event.pk, now=now),
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


# -- charts ------------------------------------------------------------------------------------
def raised_chart(
    series: donation_selectors.RaisedSeries,
    *,
    start: datetime,
    end: datetime,
    currency: str,
    zone: tzinfo,
) -> Chart:
    """Cumulative raised money as a step line: flat between minutes, up within a minute."""
    total = series.before_minor
    points = [(start, total)]
    for bucket in series.buckets:
        points.append((max(bucket.start, start), total))
        total += bucket.raised_minor
        points.append((min(bucket.start + timedelta(seconds=series.bucket_seconds), end), total))
    points.append((end, total))
    top, y_ticks = value_ticks(total, money_axis=True, currency=currency)
    x = time_scale(start, end)
    path = "M" + " L".join(f"{x(t):.1f},{y_pos(v, top):.1f}" for t, v in points)
    x_ticks = time_ticks(start, end, zone)
    return Chart(
        key="raised",
        title="Raised over time",
        summary=(
            f"{money(total, currency)} raised by {local(end, zone)}, "
            f"{money(total - series.before_minor, currency)} of it since {local(start, zone)}."
        ),
        path=path,
        bars=[],
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        table_head=("time", "raised"),
        table=[(t.label, money(_value_at(points, x, t.pos), currency)) for t in x_ticks],
    )


def per_minute_chart(
    series: donation_selectors.RaisedSeries, *, start: datetime, end: datetime, zone: tzinfo
) -> Chart:
    """Donations per minute over the last hour of the window, one bar per minute."""
    first = _floor_minute(start)
    minutes = max(1, math.ceil((end - first).total_seconds() / 60))
    counts = [0] * minutes
    for bucket in series.buckets:
        i = int((bucket.start - first).total_seconds() // 60)
        if 0 <= i < minutes:
            counts[i] += bucket.donations
    top, y_ticks = value_ticks(max(counts), money_axis=False)
    x = time_scale(first, first + timedelta(minutes=minutes))
    slot = PLOT_W / minutes
    bars = [
        Bar(
            x=round(x(first + timedelta(minutes=i)) + slot * 0.1, 1),
            y=round(y_pos(n, top), 1),
            w=round(slot * 0.8, 1),
            h=round(TOP + PLOT_H - y_pos(n, top), 1),
            label=f"{local(first + timedelta(minutes=i), zone)}: {n}",
        )
        for i, n in enumerate(counts)
        if n
    ]
    last10 = sum(counts[-10:])
    return Chart(
        key="per-minute",
        title="Donations per minute",
        summary=(
            f"{sum(counts)} donations since {local(first, zone)}; {last10} in the last "
            f"{min(10, minutes)} minutes; at most {max(counts)} in one minute."
        ),
        path="",
        bars=bars,
        x_ticks=time_ticks(first, first + timedelta(minutes=minutes), zone),
        y_ticks=y_ticks,
        table_head=("minute", "donations"),
        table=[
            (local(first + timedelta(minutes=i), zone), str(n)) for i, n in enumerate(counts) if n
        ],
    )


def viewers_chart(
    samples: list[event_selectors.ViewerPoint], *, start: datetime, end: datetime, zone: tzinfo
) -> Chart:
    """Viewers over time. No sample for more than 2.5 sample intervals means nobody was
    connected (the live room samples while anybody watches): the line drops to zero there."""
    gap = timedelta(seconds=settings.LIVE_VIEWER_SAMPLE_SECONDS * 2.5)
    points: list[tuple[datetime, int]] = []
    previous: datetime | None = None
    for sample in samples:
        if previous is None and sample.at - start > gap:
            points.append((start, 0))
            points.append((sample.at - gap / 2.5, 0))
        elif previous is not None and sample.at - previous > gap:
            points.append((previous + gap / 2.5, 0))
            points.append((sample.at - gap / 2.5, 0))
        points.append((sample.at, sample.viewers))
        previous = sample.at
    if previous is not None and end - previous > gap:
        points.append((previous + gap / 2.5, 0))
    if not points or points[-1][0] < end:
        points.append((end, points[-1][1] if points and end - points[-1][0] <= gap else 0))
    if points[0][0] > start:
        points.insert(0, (start, 0))
    peak = max(v for _, v in points)
    top, y_ticks = value_ticks(peak, money_axis=False)
    x = time_scale(start, end)
    path = "M" + " L".join(f"{x(t):.1f},{y_pos(v, top):.1f}" for t, v in points)
    x_ticks = time_ticks(start, end, zone)
    now_viewers = samples[-1].viewers if samples else 0
    return Chart(
        key="viewers",
        title="Viewers over time",
        summary=f"{now_viewers} watching at the last count; at most {peak} since "
        f"{local(start, zone)}.",
        path=path,
        bars=[],
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        table_head=("time", "viewers"),
        table=[(t.label, str(_value_at(points, x, t.pos))) for t in x_ticks],
    )


# -- scales and labels -------------------------------------------------------------------------
def time_scale(start: datetime, end: datetime) -> Any:
    span = max((end - start).total_seconds(), 1.0)

    def x(t: datetime) -> float:
        return LEFT + (t - start).total_seconds() / span * PLOT_W

    return x


def y_pos(value: float, top: float) -> float:
    return TOP + PLOT_H - (value / top * PLOT_H if top else 0)


def value_ticks(peak: int, *, money_axis: bool, currency: str = "usd") -> tuple[int, list[Tick]]:
    """A round top for the axis and 3-5 ticks on it (minor units for money: round in major)."""
    unit = 100 if money_axis else 1
    raw = max(peak / unit, 1) / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if not money_axis:
        step = max(1, round(step))
    step_minor = round(step * unit)
    top = max(step_minor, math.ceil(peak / step_minor) * step_minor)
    ticks = []
    for value in range(0, top + 1, step_minor):
        label = compact_money(value, currency) if money_axis else f"{value:,}"
        ticks.append(Tick(pos=round(y_pos(value, top), 1), label=label))
    return top, ticks


def time_ticks(start: datetime, end: datetime, zone: tzinfo) -> list[Tick]:
    """Ticks at round local times (every 1, 2, 5 … 720 minutes), at most 7."""
    span_min = (end - start).total_seconds() / 60
    step = next((s for s in TIME_STEPS_MIN if span_min / s <= 6), TIME_STEPS_MIN[-1])
    offset = (start.astimezone(zone).utcoffset() or timedelta()).total_seconds()
    step_s = step * 60
    first = math.ceil((start.timestamp() + offset) / step_s) * step_s - offset
    x = time_scale(start, end)
    ticks = []
    t = first
    while t <= end.timestamp():
        when = datetime.fromtimestamp(t, tz=UTC)
        pos = round(x(when), 1)
        anchor = "end" if pos > WIDTH - RIGHT - 16 else "start" if pos < LEFT + 16 else "middle"
        ticks.append(Tick(pos=pos, label=local(when, zone), anchor=anchor))
        t += step_s
    return ticks


def _value_at(points: list[tuple[datetime, int]], x: Any, pos: float) -> int:
    """The line's value at the x position `pos` (the last point at or before it)."""
    value = points[0][1]
    for t, v in points:
        if x(t) > pos + 0.05:
            break
        value = v
    return value


def _floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def local(t: datetime, zone: tzinfo) -> str:
    return t.astimezone(zone).strftime("%H:%M")


def money(amount_minor: int, currency: str) -> str:
    major, minor = divmod(amount_minor, 100)
    text = f"{major:,}" if minor == 0 else f"{major:,}.{minor:02d}"
    return CURRENCY_SYMBOLS.get(currency, "") + text


def compact_money(amount_minor: int, currency: str) -> str:
    """An axis label: $0, $750, $2.5k, $120k, $1.2M."""
    symbol = CURRENCY_SYMBOLS.get(currency, "")
    major = amount_minor / 100
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if major >= size:
            scaled = major / size
            text = f"{scaled:.1f}".removesuffix(".0") if scaled < 10 else f"{scaled:,.0f}"
            return f"{symbol}{text}{suffix}"
    return symbol + format_major(amount_minor)
