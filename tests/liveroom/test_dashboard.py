"""The staff's live dashboard: scoping, its numbers against the ledger, the charts' data, the
refcodes, the recent donations (as text), the stream's health and the fragment's cost."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from donations.models import MatchOffer
from donations.selectors import (
    RaisedBucket,
    RaisedSeries,
    RefcodeTotal,
    event_matching,
    event_raised_series,
    event_recent_donations,
    event_top_refcodes,
    ledger_tally,
)
from engagement import asks
from events.models import EventStatus, ViewerSample
from liveroom import charts
from streaming import services as stream_services
from streaming.models import Rendition, SimulcastDestination, Stream, StreamState
from streaming.selectors import RenditionHealth, stream_health
from streaming.simulcast import keybox
from tests.donations.factories import DonationFactory
from tests.engagement.factories import QuestionFactory, open_poll
from tests.factories import CampaignFactory, EventFactory
from tests.support.ledger import give, refund

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Staff users are made per test: a slow hasher would cost a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _alpha_live_for_half_an_hour(campaign, event):
    """The shared live event, live for 30 minutes, with a $10,000 goal, of "Alpha for Congress"."""
    campaign.name = "Alpha for Congress"
    campaign.save(update_fields=["name"])
    event.went_live_at = timezone.now() - timedelta(minutes=30)
    event.goal_minor = 1_000_000
    event.save(update_fields=["went_live_at", "goal_minor"])


def url(event, **query) -> str:
    base = reverse("liveroom:dashboard", args=[event.pk])
    return base + ("?fragment=1" if query.get("fragment") else "")


# -- who may see it ------------------------------------------------------------------------------
def test_an_anonymous_visitor_is_sent_to_the_admin_login(client, event):
    response = client.get(url(event))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_of_another_campaign_get_404_on_the_page_and_the_fragment(
    client, event, staff_factory
):
    client.force_login(staff_factory(CampaignFactory(), "owner"))
    assert client.get(url(event)).status_code == 404
    assert client.get(url(event, fragment=True)).status_code == 404


def test_a_viewer_member_of_the_campaign_may_watch_the_dashboard(client, event, staff_factory):
    client.force_login(staff_factory(event.campaign, "viewer"))
    response = client.get(url(event))
    assert response.status_code == 200
    assert response.context["title"] == f"Live dashboard: {event.title}"


def test_a_superuser_may_watch_any_events_dashboard(client, event, superuser):
    client.force_login(superuser)
    assert client.get(url(event)).status_code == 200


def test_an_inactive_member_is_sent_to_the_login(client, event, staff_factory):
    client.force_login(staff_factory(event.campaign, "owner", is_active=False))
    assert client.get(url(event)).status_code == 302


def test_the_admins_old_dashboard_address_leads_to_the_dashboard(client, event, staff_factory):
    client.force_login(staff_factory(event.campaign, role="viewer"))
    old = f"/admin/events/event/{event.pk}/dashboard/"
    response = client.get(old)
    assert response.status_code == 302
    assert response["Location"] == f"/staff/events/{event.pk}/dashboard/"


def test_the_change_page_and_the_event_list_link_to_the_dashboard(client, event, staff_factory):
    client.force_login(staff_factory(event.campaign, "manager"))
    link = f'href="{url(event)}"'
    change = client.get(reverse("admin:events_event_change", args=[event.pk]))
    assert link in change.content.decode()
    assert ">Live dashboard</a>" in change.content.decode()
    changelist = client.get(reverse("admin:events_event_changelist"))
    assert link in changelist.content.decode()


# -- the numbers ---------------------------------------------------------------------------------
def test_the_numbers_match_the_ledger_after_donations_and_refunds(client, event, staff_factory):
    give(event, amount=10_000, email="ada@example.com")
    give(event, amount=5_000, email="ada@example.com")
    refunded = give(event, amount=7_500, email="bob@example.com")
    partly = give(event, amount=4_000, email="cy@example.com")
    refund(refunded, 7_500)
    refund(partly, 1_500)
    give(EventFactory(campaign=event.campaign, status=EventStatus.LIVE), amount=99_900)
    client.force_login(staff_factory(event.campaign, "viewer"))

    panels = client.get(url(event, fragment=True)).context["panels"]

    ledger = ledger_tally(event_id=event.pk)
    assert (ledger.raised_minor, ledger.donors, ledger.donations) == (17_500, 2, 3)
    assert (panels.raised, panels.donors, panels.donations) == ("$175", 2, 3)
    assert (panels.goal, panels.percent) == ("$10,000", 1)
    series = event_raised_series(event_id=event.pk, bucket_seconds=60)
    assert (series.raised_minor, series.donations) == (17_500, 3)


def test_the_raised_series_buckets_counted_money_by_when_it_succeeded(event):
    give(event, amount=1_000, at=T0 - timedelta(minutes=5))  # before `since`
    give(event, amount=2_000, at=T0 + timedelta(seconds=10))
    give(event, amount=3_000, at=T0 + timedelta(seconds=59))
    refunded = give(event, amount=4_000, at=T0 + timedelta(minutes=2, seconds=1))
    partly = give(event, amount=5_000, at=T0 + timedelta(minutes=2, seconds=30))
    refund(refunded, 4_000)
    refund(partly, 500)
    give(event, amount=6_000, at=T0 + timedelta(minutes=7))

    assert event_raised_series(event_id=event.pk, bucket_seconds=60, since=T0) == RaisedSeries(
        bucket_seconds=60,
        before_minor=1_000,
        before_donations=1,
        buckets=[
            RaisedBucket(start=T0, raised_minor=5_000, donations=2),
            RaisedBucket(start=T0 + timedelta(minutes=2), raised_minor=4_500, donations=1),
            RaisedBucket(start=T0 + timedelta(minutes=7), raised_minor=6_000, donations=1),
        ],
    )
    five = event_raised_series(event_id=event.pk, bucket_seconds=300)
    assert [(b.start, b.raised_minor) for b in five.buckets] == [
        (T0 - timedelta(minutes=5), 1_000),
        (T0, 9_500),
        (T0 + timedelta(minutes=5), 6_000),
    ]


def test_top_refcodes_are_ordered_by_money_then_gifts(event):
    give(event, amount=5_000, refcode="email")
    give(event, amount=5_000, refcode="email")
    give(event, amount=10_000, refcode="sms")
    give(event, amount=9_000, refcode="")
    give(event, amount=20_000, refcode="tv")
    refund(give(event, amount=50_000, refcode="refunded"), 50_000)
    give(event, amount=100, refcode="tiny")

    assert event_top_refcodes(event_id=event.pk, limit=4) == [
        RefcodeTotal(refcode="tv", raised_minor=20_000, donations=1),
        RefcodeTotal(refcode="email", raised_minor=10_000, donations=2),
        RefcodeTotal(refcode="sms", raised_minor=10_000, donations=1),
        RefcodeTotal(refcode="", raised_minor=9_000, donations=1),
    ]


def test_recent_donations_are_the_newest_successes_with_their_status(event):
    first = give(event, amount=1_000, first_name="Ada", last_name="L", at=T0)
    second = give(
        event,
        amount=2_000,
        first_name="Bob",
        last_name="M",
        refcode="sms",
        at=T0 + timedelta(minutes=1),
    )
    refund(first, 1_000)
    DonationFactory(event=event, first_name="Pending")  # not paid: left out

    rows = event_recent_donations(event_id=event.pk, limit=10)
    assert [(r.donation_id, r.name, r.amount_minor, r.refcode, r.status) for r in rows] == [
        (second.pk, "Bob M", 2_000, "sms", "succeeded"),
        (first.pk, "Ada L", 1_000, "", "refunded"),
    ]


# -- the page ------------------------------------------------------------------------------------
def test_donor_names_are_shown_as_text_and_emails_not_at_all(client, event, staff_factory):
    give(
        event,
        first_name="<img src=x onerror=alert(1)>",
        last_name="",
        email="secret@x.org",
        refcode="<b>ref</b>",
    )
    client.force_login(staff_factory(event.campaign, "manager"))

    for page in (url(event), url(event, fragment=True)):
        html = client.get(page).content.decode()
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "<img src=x" not in html
        assert "&lt;b&gt;ref&lt;/b&gt;" in html
        assert "secret@x.org" not in html


def test_the_fragment_is_the_panels_alone_and_not_cached(client, event, staff_factory):
    give(event, amount=12_345, first_name="Ada", last_name="Lovelace")
    client.force_login(staff_factory(event.campaign, "manager"))

    response = client.get(url(event, fragment=True))

    html = response.content.decode()
    assert response.status_code == 200
    assert response["X-Dashboard-Fragment"] == "1"
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert "<html" not in html
    assert "breadcrumbs" not in html
    assert '<span class="value" data-dash="raised">$123.45</span>' in html
    assert "Ada Lovelace" in html
    assert html.count('<svg role="img"') == 3


def test_the_page_has_breadcrumbs_the_polling_script_and_the_panels(client, event, superuser):
    client.force_login(superuser)
    html = client.get(url(event)).content.decode()
    assert f'<a href="{reverse("admin:events_event_change", args=[event.pk])}">' in html
    assert "&rsaquo; Live dashboard" in html
    assert "/static/js/dashboard.js" in html
    assert f'data-fragment-url="{url(event)}?fragment=1"' in html
    assert 'id="recent-donations"' in html


def test_charts_are_accessible_images_with_a_data_table(client, event, superuser):
    client.force_login(superuser)
    html = client.get(url(event, fragment=True)).content.decode()
    for key, title in (
        ("raised", "Raised over time"),
        ("per-minute", "Donations per minute"),
        ("viewers", "Viewers over time"),
    ):
        assert f'<svg role="img" aria-labelledby="chart-{key}-title chart-{key}-desc"' in html
        assert f'<title id="chart-{key}-title">{title}</title>' in html
        assert f"<caption>{title}: the data</caption>" in html


def test_times_are_shown_in_the_staff_members_time_zone(client, event, superuser):
    give(event, first_name="Ada", at=timezone.now().replace(hour=15, minute=4, second=5))
    client.force_login(superuser)

    client.cookies["pc_tz"] = "America/New_York"
    panels = client.get(url(event, fragment=True)).context["panels"]
    assert panels.zone_name == "America/New_York"
    assert panels.recent[0].time in ("10:04:05", "11:04:05")  # EST or EDT

    client.cookies["pc_tz"] = "../../etc/passwd"
    panels = client.get(url(event, fragment=True)).context["panels"]
    assert (panels.zone_name, panels.recent[0].time) == ("UTC", "15:04:05")


def test_the_viewer_chart_follows_the_samples(client, event, superuser):
    now = timezone.now()
    for seconds_ago, viewers in ((60, 120), (45, 180), (30, 150), (15, 140)):
        ViewerSample.objects.create(
            event=event, at=now - timedelta(seconds=seconds_ago), viewers=viewers
        )
    client.force_login(superuser)

    panels = client.get(url(event, fragment=True)).context["panels"]

    assert panels.viewers == 140
    assert panels.viewers_chart.summary.startswith(
        "140 watching at the last count; at most 180 since "
    )


# -- the stream ----------------------------------------------------------------------------------
def test_stream_health_shows_state_renditions_and_never_the_key(client, event, superuser):
    stream, key = stream_services.create_stream(event_id=event.pk)
    Stream.objects.filter(pk=stream.pk).update(
        state=StreamState.LIVE, last_segment_at=timezone.now() - timedelta(seconds=3)
    )
    Rendition.objects.create(
        stream=stream,
        name="720p",
        next_seq=40,
        position=0,
        variant={"BANDWIDTH": "3000000", "RESOLUTION": "1280x720"},
    )
    Rendition.objects.create(
        stream=stream, name="360p", next_seq=40, position=1, peak_bits_per_second=900_000
    )
    client.force_login(superuser)

    health = stream_health(event_id=event.pk)
    assert (health.state, health.ingest, health.transcoder_running) == ("live", "HLS push", None)
    assert 3 <= health.seconds_since_segment < 10
    assert health.renditions == [
        RenditionHealth(
            name="720p", bandwidth=3_000_000, resolution="1280x720", segments=40, ended=False
        ),
        RenditionHealth(name="360p", bandwidth=900_000, resolution="", segments=40, ended=False),
    ]
    html = client.get(url(event)).content.decode()
    assert "720p · 1280x720 · 3000 kbit/s" in html
    assert key not in html
    assert stream.key_hash not in html


def test_a_silent_live_stream_shows_as_reconnecting(event):
    stream, _ = stream_services.create_stream(event_id=event.pk)
    Stream.objects.filter(pk=stream.pk).update(
        state=StreamState.LIVE, last_segment_at=timezone.now() - timedelta(minutes=1)
    )
    health = stream_health(event_id=event.pk)
    assert (health.state, health.state_label) == ("reconnecting", "Reconnecting")


def test_the_show_panel_shows_each_simulcast_destination_without_its_key(
    client, event, staff_factory
):
    SimulcastDestination.objects.create(
        event=event, service="youtube", url="rtmps://a.rtmps.youtube.com/live2",
        key_sealed=keybox.seal("yt-secret-key-1"), state="live",
    )  # fmt: skip
    SimulcastDestination.objects.create(
        event=event, service="custom", url="rtmp://8.8.8.8/live", enabled=True,
        key_sealed=keybox.seal("other-secret-key-2"), state="retrying", tries=2,
        last_error="ffmpeg exited with 1: rtmp://8.8.8.8/live/<stream key>: Connection refused",
    )  # fmt: skip
    client.force_login(staff_factory(event.campaign, "viewer"))
    html = client.get(url(event, fragment=True)).content.decode()
    show_panel = html.split('id="the-show"', 1)[1].split("</section>", 1)[0]
    assert "rtmps://a.rtmps.youtube.com/live2" in show_panel
    assert 'class="dash-state simulcast-live" data-simulcast-state>Live<' in show_panel
    assert 'class="dash-state simulcast-retrying" data-simulcast-state>Retrying<' in show_panel
    assert (
        "Try 2: ffmpeg exited with 1: rtmp://8.8.8.8/live/&lt;stream key&gt;: Connection "
        "refused" in show_panel
    )
    assert "secret-key" not in html


# -- cost ----------------------------------------------------------------------------------------
def test_the_fragment_takes_twenty_five_queries_whatever_the_data(
    client, event, staff_factory, django_assert_num_queries
):
    """Session, user, memberships, the event (with its campaign), the tally's shards, the raised
    series, the viewer samples, the money before/during/after the show, the top refcodes, the
    recent donations, the stream (with its transcoder) and its renditions, the simulcast
    destinations, whether the user may run the show, the room's questions (settings and counts,
    the queue, those on the page), polls (the polls, their answers' counts) and asks, the match
    offers and what they matched, the capacity (the event's tier, the latest notice, whether
    the user is an owner; for an owner one more, the larger tiers): 25, however many
    donations, samples, renditions, destinations, questions, polls, asks, offers or notices."""
    for status in ("pending", "pending", "approved", "answered"):
        QuestionFactory(event=event, status=status)
    for question in ("First?", "Second?"):
        open_poll(event, question=question)
    for text in ("Give $27", "Give $50"):
        asks.create_ask(event_id=event.pk, text=text, amount_minor=2_700, by_user_id=None)
    for i in range(30):
        give(event, amount=1_000 + i, refcode=f"r{i % 4}", at=timezone.now() - timedelta(minutes=i))
    for i in range(20):
        ViewerSample.objects.create(
            event=event, at=timezone.now() - timedelta(seconds=15 * i), viewers=i
        )
    stream, _ = stream_services.create_stream(event_id=event.pk)
    for name in ("720p", "480p", "360p"):
        Rendition.objects.create(stream=stream, name=name)
    for n in range(3):
        SimulcastDestination.objects.create(event=event, url=f"rtmp://8.8.8.8/{n}", key_sealed="x")
    for hours in (-1, 2):
        MatchOffer.objects.create(
            event=event, sponsor="Acme", ratio=1, cap_minor=50_000,
            starts_at=timezone.now() + timedelta(hours=hours),
            ends_at=timezone.now() + timedelta(hours=hours + 1),
        )  # fmt: skip
    client.force_login(staff_factory(event.campaign, "manager"))

    with django_assert_num_queries(25):
        response = client.get(url(event, fragment=True))
    assert response.status_code == 200
    matched = event_matching(event_id=event.pk).matched_minor
    assert matched > 0
    assert f"+ {charts.money(matched, 'usd')} matched" in response.content.decode()


def test_the_fragment_of_an_event_without_anything_still_renders(client, superuser):
    quiet = EventFactory(status=EventStatus.SCHEDULED)
    client.force_login(superuser)
    response = client.get(url(quiet, fragment=True))
    html = response.content.decode()
    assert "No donations yet." in html
    assert "This event has no stream." in html
    assert re.search(r'data-dash="viewers">—<', html)


def test_axis_labels_are_round_amounts_in_the_campaign_currency():
    top, ticks = charts.value_ticks(1_234_500, money_axis=True, currency="eur")
    assert top == 1_500_000
    assert [t.label for t in ticks] == ["€0", "€5k", "€10k", "€15k"]
    top, ticks = charts.value_ticks(7, money_axis=False)
    assert (top, [t.label for t in ticks]) == (8, ["0", "2", "4", "6", "8"])
