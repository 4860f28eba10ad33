"""The event's report (liveroom/report.py, reportviews.py) and staff marking moments from the
dashboard (engagementviews.moment_create): viewer-minutes from samples, each moment's money
and dollars per viewer-minute against known gifts and samples (refunds subtracting), other
apps' moments merged in, who may read the report and mark moments, and the CSVs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from donations.milestones import record_crossings, save_milestone
from donations.models import Milestone
from engagement import moments
from engagement.models import Moment
from events.models import EventStatus, ViewerSample
from events.selectors import ViewerPoint
from liveroom import report
from liveroom.engagementviews import MOMENT_VIEW_ONLY
from tests.factories import CampaignFactory, EventFactory
from tests.support.ledger import give, refund

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_passwords_and_samples(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LIVE_VIEWER_SAMPLE_SECONDS = 15


# -- viewer-minutes ------------------------------------------------------------------------------
def _points(*pairs: tuple[int, int]) -> list[ViewerPoint]:
    return [ViewerPoint(at=T0 + timedelta(seconds=s), viewers=n) for s, n in pairs]


def test_each_sample_holds_until_the_next_for_at_most_one_interval():
    samples = _points((0, 10), (15, 20), (120, 30))  # nobody sampled from 30 s to 120 s
    minutes = report.viewer_minutes(samples, start=T0, end=T0 + timedelta(minutes=3), sample_s=15)
    assert minutes == (10 * 15 + 20 * 15 + 30 * 15) / 60


def test_a_window_takes_the_part_of_each_sample_inside_it():
    samples = _points((-10, 60), (5, 10), (20, 20))
    minutes = report.viewer_minutes(samples, start=T0, end=T0 + timedelta(seconds=30), sample_s=15)
    assert minutes == (60 * 5 + 10 * 15 + 20 * 10) / 60


def test_money_per_viewer_minute_is_none_without_viewers():
    assert report.per_viewer_minute(10_000, 0) is None
    assert report.money_per(None, "usd") == "—"
    assert report.per_viewer_minute(13_000, 500.0) == Decimal("0.2600")
    assert report.money_per(Decimal("0.2600"), "usd") == "$0.26"
    assert report.money_per(Decimal("0.0042"), "usd") == "$0.004"


# -- the report ----------------------------------------------------------------------------------
@pytest.fixture
def show(campaign):
    """A show of 30 minutes from T0 with 100 viewers throughout (a sample every 15 s), a
    speaker 10 minutes in and gifts around it."""
    event = EventFactory(
        campaign=campaign,
        status=EventStatus.ENDED,
        went_live_at=T0,
        ended_at=T0 + timedelta(minutes=30),
    )
    ViewerSample.objects.bulk_create(
        ViewerSample(event=event, at=T0 + timedelta(seconds=15 * i), viewers=100)
        for i in range(30 * 4)
    )
    speaker = T0 + timedelta(minutes=10)
    moments.record_moment(event_id=event.pk, kind="speaker", label="Jane Doe", at=speaker)
    give(event, amount=10_000, email="ada@example.com", at=speaker + timedelta(seconds=20))
    partly = give(event, amount=5_000, email="bob@example.com", at=speaker + timedelta(minutes=4))
    refund(partly, 2_000)
    give(event, amount=7_000, at=speaker + timedelta(minutes=5))  # just after the window
    give(event, amount=1_000, refcode="sms", ask_tag="ask-1", at=T0 + timedelta(minutes=2))
    return event


def test_a_moment_shows_the_money_of_the_five_minutes_after_it_per_viewer_minute(show):
    built = report.build_report(event=show, zone=UTC, now=T0 + timedelta(hours=2))
    (speaker,) = built.moments
    assert (speaker.title, speaker.time) == ("Speaker: Jane Doe", "19:10:00")
    assert (speaker.raised, speaker.donations, speaker.donors) == ("$130", 2, 2)
    assert speaker.viewer_minutes == Decimal("500.0")  # 100 viewers for 5 minutes
    assert speaker.per_viewer_minute == Decimal("0.2600")  # $130 / 500, after the $20 refund
    assert speaker.per_viewer_minute_text == "$0.26"


def test_the_timeline_has_a_row_per_minute_of_the_show(show):
    built = report.build_report(event=show, zone=UTC, now=T0 + timedelta(hours=2))
    assert [r.time for r in built.minutes[:3]] == ["19:00", "19:01", "19:02"]
    assert len(built.minutes) == 30
    by_time = {r.time: r for r in built.minutes}
    assert (by_time["19:02"].raised, by_time["19:02"].donors) == ("$10", 1)
    assert by_time["19:14"].raised == "$30"  # the partly refunded gift's net
    assert by_time["19:10"].moments == ["1. Speaker: Jane Doe"]
    assert {r.viewers for r in built.minutes} == {100}
    assert (built.raised, built.raised_in_timeline) == ("$210", "$210")
    assert [(a.name, a.raised) for a in built.asks] == [("ask-1", "$10")]
    assert built.refcodes[0].name == "(none)"


def test_another_apps_moments_are_merged_in_time_order(show):
    crossing = report.ReportMoment(
        at=T0 + timedelta(minutes=1), kind="milestone", title="Milestone: $10"
    )
    built = report.build_report(
        event=show, zone=UTC, now=T0 + timedelta(hours=2), extra_moments=[crossing]
    )
    assert [(m.number, m.title) for m in built.moments] == [
        (1, "Milestone: $10"),
        (2, "Speaker: Jane Doe"),
    ]
    assert built.moments[0].raised == "$10"


# -- who may read it -----------------------------------------------------------------------------
def _urls(event) -> list[str]:
    return [
        reverse(name, args=[event.pk])
        for name in ("liveroom:report", "liveroom:report-csv", "liveroom:report-moments-csv")
    ]


@pytest.mark.parametrize("role", ["owner", "manager", "treasurer", "viewer"])
def test_every_member_of_the_campaign_may_read_the_report(client, staff_factory, show, role):
    client.force_login(staff_factory(show.campaign, role=role))
    page = client.get(_urls(show)[0])
    assert page.status_code == 200
    assert page.context["title"] == f"Report: {show.title}"
    assert "Speaker: Jane Doe" in page.content.decode()


def test_another_campaigns_staff_get_a_404_for_the_report_and_its_csvs(client, staff_factory, show):
    client.force_login(staff_factory(CampaignFactory(), role="owner"))
    assert [client.get(url).status_code for url in _urls(show)] == [404, 404, 404]


def test_a_signed_out_visitor_is_sent_to_the_login(client, show):
    response = client.get(_urls(show)[0])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# -- the CSVs ------------------------------------------------------------------------------------
def _rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_moments_csv_has_each_moments_window_and_dollars_per_viewer_minute(
    client, staff_factory, show
):
    moments.record_moment(event_id=show.pk, kind="other", label="=1+2", at=T0 + timedelta(hours=1))
    client.force_login(staff_factory(show.campaign, role="viewer"))
    response = client.get(_urls(show)[2])
    assert response["Content-Disposition"] == f'attachment; filename="event-{show.pk}-moments.csv"'
    assert _rows(response) == [
        ["number", "at_utc", "kind", "moment", "window_minutes", "raised", "donations", "donors",
         "viewer_minutes", "dollars_per_viewer_minute"],
        ["1", "2026-11-03T19:10:00+00:00", "speaker", "Speaker: Jane Doe", "5", "130.00", "2",
         "2", "500.0", "0.2600"],
        ["2", "2026-11-03T20:00:00+00:00", "other", "'=1+2", "5", "0.00", "0", "0", "0.0", ""],
    ]  # fmt: skip


def test_the_timeline_csv_has_a_row_per_minute(client, staff_factory, show):
    client.force_login(staff_factory(show.campaign, role="owner"))
    rows = _rows(client.get(_urls(show)[1]))
    assert rows[0] == [
        "minute_utc", "raised", "donations", "donors", "viewers", "reactions", "questions",
        "moments",
    ]  # fmt: skip
    assert len(rows) == 31
    assert rows[11] == [
        "2026-11-03T19:10:00+00:00", "100.00", "1", "1", "100", "0", "0", "1. Speaker: Jane Doe",
    ]  # fmt: skip


# -- staff mark moments --------------------------------------------------------------------------
def _mark(client, event, **fields):
    body = {"kind": "speaker", "label": "Jane Doe", "key": "k" * 22, **fields}
    return client.post(reverse("liveroom:moment-create", args=[event.pk]), body)


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_owners_and_managers_mark_a_moment_from_the_dashboard(
    client, staff_factory, live_event, role
):
    client.force_login(staff_factory(live_event.campaign, role=role))
    page = client.get(reverse("liveroom:dashboard", args=[live_event.pk])).content.decode()
    assert "Mark a moment" in page

    response = _mark(client, live_event, label="  Jane   Doe ")
    again = _mark(client, live_event)  # the same form sent twice

    dashboard = reverse("liveroom:dashboard", args=[live_event.pk])
    assert response.status_code == again.status_code == 302
    assert response["Location"] == f"{dashboard}#moments"
    assert [m.title for m in Moment.objects.filter(event=live_event)] == ["Speaker: Jane Doe"]


def test_a_viewer_member_is_refused_with_the_reason_and_nothing_is_marked(
    client, staff_factory, live_event
):
    client.force_login(staff_factory(live_event.campaign, role="viewer"))
    page = client.get(reverse("liveroom:dashboard", args=[live_event.pk])).content.decode()
    assert "Mark a moment" not in page
    response = _mark(client, live_event)
    assert (response.status_code, response.content.decode()) == (403, MOMENT_VIEW_ONLY)
    assert not Moment.objects.exists()


def test_another_campaigns_staff_are_refused_and_nothing_is_marked(
    client, staff_factory, live_event
):
    client.force_login(staff_factory(CampaignFactory(), role="owner"))
    assert _mark(client, live_event).status_code == 404
    assert not Moment.objects.exists()


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("   ", "Type a label for the moment, like the speaker&#x27;s name."),
        ("x" * 121, "Keep the moment&#x27;s label to 120 characters (it has 121)."),
    ],
)
def test_a_bad_label_comes_back_with_the_reason_and_nothing_is_marked(
    client, staff_factory, live_event, label, message
):
    client.force_login(staff_factory(live_event.campaign, role="manager"))
    response = _mark(client, live_event, label=label)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Moment.objects.exists()


def test_a_json_client_gets_the_reason_as_json(client, staff_factory, live_event):
    client.force_login(staff_factory(live_event.campaign, role="manager"))
    response = client.post(
        reverse("liveroom:moment-create", args=[live_event.pk]),
        {"kind": "milestone", "label": "$1M"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Milestones are marked by the ledger, not by hand."}
    assert not Moment.objects.exists()


def test_a_show_still_live_without_moments_has_a_report_of_its_last_hour(
    client, staff_factory, live_event
):
    client.force_login(staff_factory(live_event.campaign, role="manager"))
    response = client.get(reverse("liveroom:report", args=[live_event.pk]))
    assert response.status_code == 200
    assert len(response.context["report"].minutes) in (60, 61)
    assert "No moments were marked." in response.content.decode()


def test_a_milestone_crossed_is_a_moment_of_the_report(client, staff_factory, show):
    milestone = save_milestone(event_id=show.pk, amount_minor=15_000, percent=None)
    assert record_crossings(event_id=show.pk) == [milestone.pk]  # the tally is past $150
    # Crossed during the show, 14 minutes in.
    Milestone.objects.filter(pk=milestone.pk).update(crossed_at=T0 + timedelta(minutes=14))
    client.force_login(staff_factory(show.campaign, "viewer"))

    page = client.get(f"/staff/events/{show.pk}/report/")

    assert page.status_code == 200
    titles = [m.title for m in page.context["report"].moments]
    assert titles == ["Speaker: Jane Doe", "Milestone: $150 raised"]
