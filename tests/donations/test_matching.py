"""Match offers: what a match adds is computed from the ledger (gifts paid inside the window,
net of refunds, times the ratio, up to the cap), shown per gift in the export and never stored
as a donation; staff's bad input is refused with a sentence, in the service and on the event's
admin page, and another campaign's staff reach nothing."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from donations import exports, matching
from donations.models import Donation, MatchOffer, Milestone
from donations.selectors import event_tally, match_state
from liveroom.snapshot import build_snapshot
from tests.donations.goals import give, refund
from tests.factories import CampaignFactory

HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _simulated(simulated_settings):
    """Gifts paid and refunded through the simulated provider."""


def _offer(event, *, ratio=1, cap_minor=10_000, sponsor="Acme", starts=-HOUR, ends=HOUR):
    now = timezone.now()
    terms = matching.MatchTerms(
        sponsor=sponsor, ratio=ratio, cap_minor=cap_minor, starts_at=now + starts,
        ends_at=now + ends,
    )  # fmt: skip
    return matching.save_match_offer(event_id=event.pk, terms=terms)


def _paid_at(donation, when):
    Donation.objects.filter(pk=donation.pk).update(succeeded_at=when)


def test_gifts_inside_the_window_are_matched_net_of_refunds(event):
    _offer(event, ratio=1, cap_minor=10_000)
    early = give(event, 4_000)
    _paid_at(early, timezone.now() - 2 * HOUR)  # before the window
    first = give(event, 3_000)
    give(event, 5_000)
    state = match_state(event_id=event.pk)
    assert (state.matched_minor, state.left_minor) == (8_000, 2_000)

    refund(first, 1_000)  # a partial refund lowers the match by what it took back
    state = match_state(event_id=event.pk)
    assert (state.matched_minor, state.left_minor, state.sponsor, state.ratio) == (
        7_000, 3_000, "Acme", 1,
    )  # fmt: skip
    # The match is never a donation: the tally is the donors' money only.
    assert event_tally(event_id=event.pk).raised_minor == 11_000
    assert Donation.objects.count() == 3


def test_a_two_to_one_match_stops_at_its_cap(event):
    _offer(event, ratio=2, cap_minor=10_000)
    give(event, 4_000)
    assert match_state(event_id=event.pk).matched_minor == 8_000
    give(event, 4_000)
    state = match_state(event_id=event.pk)
    assert (state.matched_minor, state.left_minor) == (10_000, 0)


def test_the_export_shows_each_gifts_match_in_its_own_column(event):
    _offer(event, ratio=2, cap_minor=10_000)
    first = give(event, 3_000)
    second = give(event, 3_000)
    third = give(event, 3_000)
    outside = give(event, 1_000)
    _paid_at(outside, timezone.now() + 2 * HOUR)
    refund(first)  # its share of the cap goes to the gifts paid after it
    rows = {
        row[exports.HEADER.index("donation_id")]: row
        for row in exports.donation_rows(campaign=event.campaign)
    }
    matched = exports.HEADER.index("matched_minor")
    assert exports.HEADER[matched - 1] == "net_minor"
    assert [rows[d.pk][matched] for d in (first, second, third, outside)] == [0, 6_000, 4_000, 0]
    assert [rows[d.pk][exports.HEADER.index("net_minor")] for d in (second, third)] == [
        3_000, 3_000,
    ]  # fmt: skip


def test_the_staff_export_download_has_the_matched_column(client, event, staff_factory):
    _offer(event)
    gift = give(event, 2_500)
    client.force_login(staff_factory(event.campaign, role="viewer"))
    response = client.get(reverse("donations:export", args=[event.campaign_id]))
    body = b"".join(response.streaming_content).decode()
    [row] = list(csv.DictReader(io.StringIO(body)))
    assert (row["donation_id"], row["net_minor"], row["matched_minor"]) == (
        str(gift.pk), "2500", "2500",
    )  # fmt: skip


RATIO = "A match is 1:1 (every gift doubled) or 2:1 (every gift tripled)."
SPONSOR = "Name the sponsor: the banner says who doubles the gifts."
CAP = "The cap is the most the sponsor gives: a positive amount."
OVERLAP = "This overlaps Acme's $100 match: one match at a time (end one before the other starts)."


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"ratio": 3}, {"ratio": [RATIO]}),
        ({"cap_minor": 0}, {"cap_minor": [CAP]}),
        ({"cap_minor": -500}, {"cap_minor": [CAP]}),
        ({"ends": -2 * HOUR}, {"ends_at": ["The match must end after it starts."]}),
        ({"sponsor": "  "}, {"sponsor": [SPONSOR]}),
        ({"starts": 0.5 * HOUR, "ends": 3 * HOUR}, {"starts_at": [OVERLAP]}),
    ],
)
def test_bad_offers_are_refused_with_a_sentence(event, fields, errors):
    _offer(event)
    with pytest.raises(ValidationError) as refused:
        _offer(event, **fields)
    assert refused.value.message_dict == errors
    assert MatchOffer.objects.count() == 1


# --- The event's admin page


def _form(event, *, offers=(), milestones=()):
    """The event's change form as a browser posts it, with new match offer and milestone
    rows."""
    data = {
        "title": event.title, "description": event.description, "visibility": event.visibility,
        "starts_at_0": event.starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": event.starts_at.strftime("%H:%M:%S"),
        "ends_at_0": event.ends_at.strftime("%Y-%m-%d"),
        "ends_at_1": event.ends_at.strftime("%H:%M:%S"),
        "auto_end_minutes": str(event.auto_end_minutes),
        "giving_window_days": str(event.giving_window_days),
        "capacity_tier": str(event.capacity_tier_id), "goal_minor": str(event.goal_minor // 100),
        "suggested_amounts": "25, 50, 100",
        "simulcast_destinations-TOTAL_FORMS": "0", "simulcast_destinations-INITIAL_FORMS": "0",
        "match_offers-TOTAL_FORMS": str(len(offers)), "match_offers-INITIAL_FORMS": "0",
        "milestones-TOTAL_FORMS": str(len(milestones)), "milestones-INITIAL_FORMS": "0",
        "_continue": "Save and continue editing",
    }  # fmt: skip
    for prefix, rows in (("match_offers", offers), ("milestones", milestones)):
        for index, row in enumerate(rows):
            for name, value in row.items():
                data[f"{prefix}-{index}-{name}"] = value
            data[f"{prefix}-{index}-event"] = str(event.pk)
    return data


def _offer_row(**fields):
    return {
        "sponsor": "Acme", "ratio": "1", "cap_minor": "5000",
        "starts_at_0": "2026-12-01", "starts_at_1": "20:00:00",
        "ends_at_0": "2026-12-01", "ends_at_1": "21:00:00", **fields,
    }  # fmt: skip


def _errors(response):
    return [
        message
        for formset in response.context["inline_admin_formsets"]
        for form in formset.formset.forms
        for messages in form.errors.values()
        for message in messages
    ]


@pytest.fixture
def manager(client, event, staff_factory):
    client.force_login(staff_factory(event.campaign, role="manager"))
    return client


def test_staff_add_a_match_and_a_milestone_on_the_events_page(manager, event):
    url = reverse("admin:events_event_change", args=[event.pk])
    response = manager.post(
        url, _form(event, offers=[_offer_row()], milestones=[{"percent": "50"}])
    )
    assert response.status_code == 302, _errors(response)
    offer = MatchOffer.objects.get()
    assert (offer.event_id, offer.sponsor, offer.ratio, offer.cap_minor) == (
        event.pk, "Acme", 1, 500_000,
    )  # fmt: skip
    assert list(Milestone.objects.values_list("event_id", "percent")) == [(event.pk, 50)]
    page = manager.get(url).content.decode()
    assert "$0 of $5,000" in page  # matched so far, of the cap


@pytest.mark.parametrize(
    ("offer", "milestone", "message"),
    [
        ({"ratio": "3"}, None, "A match is 1:1 (every gift doubled) or 2:1 (every gift tripled)."),
        ({"cap_minor": "0"}, None, "The cap is the most the sponsor gives: a positive amount."),
        ({"ends_at_1": "19:00:00"}, None, "The match must end after it starts."),
        (
            None,
            {"amount_minor": "60000"},
            "This is above the goal ($50,000): raise the goal first.",
        ),
    ],
)
def test_the_events_page_refuses_bad_rows_and_saves_nothing(
    manager, event, offer, milestone, message
):
    data = _form(
        event,
        offers=[_offer_row(**offer)] if offer else [],
        milestones=[milestone] if milestone else [],
    )
    data["title"] = "Renamed"
    response = manager.post(reverse("admin:events_event_change", args=[event.pk]), data)
    assert response.status_code == 200
    assert _errors(response) == [message]
    assert (MatchOffer.objects.count(), Milestone.objects.count()) == (0, 0)
    event.refresh_from_db()
    assert event.title != "Renamed"


def test_another_campaigns_staff_reach_nothing(client, event, staff_factory):
    client.force_login(staff_factory(CampaignFactory(), role="owner"))
    response = client.post(
        reverse("admin:events_event_change", args=[event.pk]),
        _form(event, offers=[_offer_row()], milestones=[{"amount_minor": "100"}]),
    )
    assert response.status_code == 404
    assert (MatchOffer.objects.count(), Milestone.objects.count()) == (0, 0)


def test_a_campaign_viewer_may_not_add_a_match(client, event, staff_factory):
    client.force_login(staff_factory(event.campaign, role="viewer"))
    response = client.post(
        reverse("admin:events_event_change", args=[event.pk]), _form(event, offers=[_offer_row()])
    )
    assert response.status_code == 403
    assert MatchOffer.objects.count() == 0


def test_the_live_rooms_snapshot_carries_the_open_match_and_the_crossings(event):
    assert build_snapshot(event_id=event.pk, version=1, viewers=0)["match"] is None
    _offer(event, sponsor="Earlier", starts=-3 * HOUR, ends=-2 * HOUR)
    _offer(event, sponsor="Acme", ratio=2, cap_minor=10_000)
    _offer(event, sponsor="Later", starts=2 * HOUR, ends=3 * HOUR)
    Milestone.objects.create(event=event, amount_minor=1_000)
    give(event, 2_000)

    snapshot = build_snapshot(event_id=event.pk, version=2, viewers=0)
    crossing = Milestone.objects.get().crossed_at
    assert (snapshot["raised"], snapshot["matched"]) == (2_000, 4_000)
    assert {k: v for k, v in snapshot["match"].items() if k not in ("starts", "ends")} == {
        "sponsor": "Acme", "ratio": 2, "cap": 10_000, "matched": 4_000, "left": 6_000,
    }  # fmt: skip
    assert snapshot["milestones"] == [
        {"id": Milestone.objects.get().pk, "label": "$10 raised", "at": crossing.isoformat()}
    ]
