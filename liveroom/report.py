"""The event's report: money and attention on one timeline, and which moment raised the money.

Per minute of the show (from going live to the end, at least 10 minutes, at most the last 12
hours: the dashboard's window): counted money and donors (the ledger, net of refunds, at the
minute each payment succeeded: donations/timeline.py), viewers (the minute's average, from the
viewer samples), reactions (engagement/reactions.py: Redis for two days, the database's copy
after) and questions asked. For each moment of the show: the money, gifts and donors of the
WINDOW_MINUTES minutes after it, the viewer-minutes in that window, and dollars per
viewer-minute (the window's money divided by its viewer-minutes): the moment that made the
most of the attention it had. Windows of moments close together overlap: a gift counts in
each window it falls in.

Viewer-minutes come from the samples the live room records every LIVE_VIEWER_SAMPLE_SECONDS
while anybody watches: a sample stands for its count until the next sample, for at most one
sample interval (no sample means nobody was connected).

`report_moments` is the one place where the apps' moments meet (engagement's: staff, asks,
polls; any other app's list of (at, kind, title) is added there).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from donations import selectors as donation_selectors
from donations import timeline
from engagement import reactions
from engagement import selectors as engagement_selectors
from events import selectors as event_selectors
from events.models import Event
from events.money import CURRENCY_SYMBOLS, MINOR_PER_MAJOR
from liveroom import charts
from liveroom.dashboard import REPORT_WINDOW_MINUTES, chart_window

WINDOW_MINUTES = REPORT_WINDOW_MINUTES  # the dashboard names it beside "Mark a moment"
TOP_ROWS = 8


@dataclass(frozen=True)
class ReportMoment:
    at: datetime
    kind: str  # engagement.models.MomentKind's values ("milestone" for the ledger's)
    title: str  # "Speaker: Jane Doe"


def report_moments(*, event: Event, extra: Iterable[ReportMoment] = ()) -> list[ReportMoment]:
    """The event's moments from every app, oldest first: engagement's, and `extra` (another
    app's, such as the ledger's milestone crossings)."""
    found = [
        ReportMoment(at=m.at, kind=m.kind, title=m.title)
        for m in engagement_selectors.event_moments(event_id=event.pk)
    ]
    found.extend(extra)
    return sorted(found, key=lambda m: m.at)


# -- viewer-minutes ------------------------------------------------------------------------------
def viewer_minutes(
    samples: Sequence[event_selectors.ViewerPoint],
    *,
    start: datetime,
    end: datetime,
    sample_s: float,
) -> float:
    """Viewer-minutes in [start, end): each sample's count held from its time until the next
    sample, for at most `sample_s` seconds. `samples` oldest first."""
    times = [s.at for s in samples]
    # The last sample at or before `start` may still hold into the window.
    first = max(0, bisect.bisect_right(times, start) - 1)
    total_s = 0.0
    for i in range(first, len(samples)):
        held_from = samples[i].at
        if held_from >= end:
            break
        held_to = held_from + timedelta(seconds=sample_s)
        if i + 1 < len(samples):
            held_to = min(held_to, samples[i + 1].at)
        overlap = (min(held_to, end) - max(held_from, start)).total_seconds()
        if overlap > 0:
            total_s += samples[i].viewers * overlap
    return total_s / 60


def per_viewer_minute(raised_minor: int, minutes: float) -> Decimal | None:
    """Money per viewer-minute in major units (dollars), to 4 places; None without viewers."""
    if minutes <= 0:
        return None
    value = Decimal(raised_minor) / MINOR_PER_MAJOR / Decimal(str(minutes))
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def money_per(value: Decimal | None, currency: str) -> str:
    """$0.37, or $0.004 below ten cents (the figure small audiences make); "—" for none."""
    if value is None:
        return "—"
    symbol = CURRENCY_SYMBOLS.get(currency, "")
    places = Decimal("0.01") if value >= Decimal("0.1") or value == 0 else Decimal("0.001")
    return f"{symbol}{value.quantize(places, rounding=ROUND_HALF_UP):,}"


# -- the report ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MinuteRow:
    start: datetime  # UTC
    time: str  # local HH:MM
    raised_minor: int
    raised: str
    donations: int
    donors: int
    viewers: int  # the minute's average
    reactions: int
    questions: int
    moments: list[str]


@dataclass(frozen=True)
class MomentRow:
    number: int
    at: datetime
    time: str
    kind: str
    title: str
    raised_minor: int
    raised: str
    donations: int
    donors: int
    viewer_minutes: Decimal  # to one place
    per_viewer_minute: Decimal | None  # dollars; None without viewers
    per_viewer_minute_text: str


@dataclass(frozen=True)
class TopRow:
    name: str
    detail: str  # an ask's text
    raised: str
    donations: int


@dataclass(frozen=True)
class Marker:
    x: float
    number: int
    title: str


@dataclass(frozen=True)
class TimelineChart:
    bars: list[charts.Bar]
    viewers_path: str
    markers: list[Marker]
    x_ticks: list[charts.Tick]
    y_ticks: list[charts.Tick]
    viewers_peak: int
    summary: str
    width: int = charts.WIDTH
    height: int = charts.HEIGHT
    left: int = charts.LEFT
    right_edge: int = charts.WIDTH - charts.RIGHT
    top: int = charts.TOP
    baseline: int = charts.TOP + charts.PLOT_H


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    zone_name: str
    window_minutes: int
    raised: str  # the event's whole tally
    donors: int
    raised_in_timeline: str
    peak_viewers: int
    reactions_kept: bool  # False: Redis was away and the database had no copy of some
    minutes: list[MinuteRow]
    moments: list[MomentRow]
    refcodes: list[TopRow]
    asks: list[TopRow]
    chart: TimelineChart


def build_report(
    *,
    event: Event,
    zone: tzinfo,
    now: datetime,
    extra_moments: Iterable[ReportMoment] = (),
    window_minutes: int = WINDOW_MINUTES,
) -> Report:
    currency = event.campaign.currency
    start, end = chart_window(event=event, now=now)
    first_minute = int(start.timestamp() // 60)
    last_minute = math.ceil(end.timestamp() / 60)
    minute_range = range(first_minute, max(last_minute, first_minute + 1))
    t0 = datetime.fromtimestamp(minute_range.start * 60, tz=UTC)
    t1 = datetime.fromtimestamp(minute_range.stop * 60, tz=UTC)
    moments = report_moments(event=event, extra=extra_moments)
    window = timedelta(minutes=window_minutes)

    sample_s = float(settings.LIVE_VIEWER_SAMPLE_SECONDS)
    since = min([t0, *(m.at for m in moments)]) - timedelta(seconds=sample_s)
    samples = event_selectors.viewer_series(event_id=event.pk, since=since)
    money = timeline.event_money_per_minute(event_id=event.pk, start=t0, end=t1)
    reacted, kept = reactions.reaction_minutes(event_id=event.pk, minutes=minute_range)
    asked = engagement_selectors.questions_per_minute(event_id=event.pk, start=t0, end=t1)

    titles: dict[int, list[str]] = {}
    for n, m in enumerate(moments, 1):
        titles.setdefault(int(m.at.timestamp() // 60), []).append(f"{n}. {m.title}")
    rows = []
    for minute in minute_range:
        at = datetime.fromtimestamp(minute * 60, tz=UTC)
        got = money.get(minute)
        raised_minor = got.raised_minor if got else 0
        watched = viewer_minutes(
            samples, start=at, end=at + timedelta(minutes=1), sample_s=sample_s
        )
        rows.append(
            MinuteRow(
                start=at,
                time=charts.local(at, zone),
                raised_minor=raised_minor,
                raised=charts.money(raised_minor, currency),
                donations=got.donations if got else 0,
                donors=got.donors if got else 0,
                viewers=round(watched),
                reactions=reacted.get(minute, 0),
                questions=asked.get(minute, 0),
                moments=titles.get(minute, []),
            )
        )

    windows = [(m.at, m.at + window) for m in moments]
    in_windows = timeline.event_money_in_windows(event_id=event.pk, windows=windows)
    moment_rows = []
    for n, (m, got_w) in enumerate(zip(moments, in_windows, strict=True), 1):
        watched = viewer_minutes(samples, start=m.at, end=m.at + window, sample_s=sample_s)
        per = per_viewer_minute(got_w.raised_minor, watched)
        moment_rows.append(
            MomentRow(
                number=n,
                at=m.at,
                time=m.at.astimezone(zone).strftime("%H:%M:%S"),
                kind=m.kind,
                title=m.title,
                raised_minor=got_w.raised_minor,
                raised=charts.money(got_w.raised_minor, currency),
                donations=got_w.donations,
                donors=got_w.donors,
                viewer_minutes=Decimal(str(watched)).quantize(Decimal("0.1")),
                per_viewer_minute=per,
                per_viewer_minute_text=money_per(per, currency),
            )
        )

    totals = donation_selectors.event_totals(event_id=event.pk)
    ask_texts = {a.tag: a.text for a in engagement_selectors.staff_asks(event_id=event.pk)}
    return Report(
        start=t0,
        end=t1,
        zone_name=str(zone),
        window_minutes=window_minutes,
        raised=charts.money(totals.raised_minor, currency),
        donors=totals.donors,
        raised_in_timeline=charts.money(sum(r.raised_minor for r in rows), currency),
        peak_viewers=max((s.viewers for s in samples if t0 <= s.at < t1), default=0),
        reactions_kept=kept,
        minutes=rows,
        moments=moment_rows,
        refcodes=[
            TopRow(
                name=r.refcode or "(none)",
                detail="",
                raised=charts.money(r.raised_minor, currency),
                donations=r.donations,
            )
            for r in donation_selectors.event_top_refcodes(event_id=event.pk, limit=TOP_ROWS)
        ],
        asks=[
            TopRow(
                name=a.tag,
                detail=ask_texts.get(a.tag, ""),
                raised=charts.money(a.raised_minor, currency),
                donations=a.donations,
            )
            for a in timeline.event_top_ask_tags(event_id=event.pk, limit=TOP_ROWS)
        ],
        chart=_chart(rows, moment_rows, t0=t0, t1=t1, zone=zone, currency=currency),
    )


def _chart(
    rows: list[MinuteRow],
    moments: list[MomentRow],
    *,
    t0: datetime,
    t1: datetime,
    zone: tzinfo,
    currency: str,
) -> TimelineChart:
    """Raised per minute as bars (the money axis), viewers as a line scaled to the plot's
    height (its peak named in the summary), and a numbered mark at each moment."""
    x = charts.time_scale(t0, t1)
    top, y_ticks = charts.value_ticks(
        max((r.raised_minor for r in rows), default=0), money_axis=True, currency=currency
    )
    slot = charts.PLOT_W / max(len(rows), 1)
    bars = [
        charts.Bar(
            x=round(x(r.start) + slot * 0.1, 1),
            y=round(charts.y_pos(r.raised_minor, top), 1),
            w=round(slot * 0.8, 1),
            h=round(charts.TOP + charts.PLOT_H - charts.y_pos(r.raised_minor, top), 1),
            label=f"{r.time}: {r.raised}",
        )
        for r in rows
        if r.raised_minor
    ]
    peak = max((r.viewers for r in rows), default=0)
    path = ""
    if peak:
        path = "M" + " L".join(
            f"{x(r.start + timedelta(seconds=30)):.1f},{charts.y_pos(r.viewers, peak):.1f}"
            for r in rows
        )
    markers = [
        Marker(x=round(x(m.at), 1), number=m.number, title=f"{m.time} {m.title}")
        for m in moments
        if t0 <= m.at < t1
    ]
    best = max(moments, key=lambda m: m.per_viewer_minute or Decimal(-1), default=None)
    summary = (
        f"Raised per minute from {charts.local(t0, zone)} to {charts.local(t1, zone)} "
        f"(bars), viewers (line, at most {peak}), "
        f"{len(markers)} moment{'' if len(markers) == 1 else 's'} marked."
    )
    if best is not None and best.per_viewer_minute is not None:
        summary += (
            f" Best moment per viewer-minute: {best.number}. {best.title} "
            f"({best.per_viewer_minute_text})."
        )
    return TimelineChart(
        bars=bars,
        viewers_path=path,
        markers=markers,
        x_ticks=charts.time_ticks(t0, t1, zone),
        y_ticks=y_ticks,
        viewers_peak=peak,
        summary=summary,
    )
