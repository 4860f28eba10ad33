"""The live dashboard's charts as plot geometry: the selectors' series become numbers and
labels in one SVG coordinate box; the templates draw them with Django's autoescaping.
Times are shown in the staff member's zone; money in the event's currency."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from django.conf import settings

from donations import selectors as donation_selectors
from events import selectors as event_selectors
from events.money import format_compact_money, format_money

# The SVG's coordinate box (scaled to the panel's width by CSS).
WIDTH, HEIGHT = 640, 190
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 10, 24
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TIME_STEPS_MIN = (1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720)


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
def time_scale(start: datetime, end: datetime) -> Callable[[datetime], float]:
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
        label = format_compact_money(value, currency) if money_axis else f"{value:,}"
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


def _value_at(
    points: list[tuple[datetime, int]], x: Callable[[datetime], float], pos: float
) -> int:
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
    return format_money(amount_minor, currency, grouped=True)
