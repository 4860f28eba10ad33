"""The live ticker's rules (donations/ticker.py): the default display of a donor, anonymity,
the campaign's minimum gift for a name, the profanity filter (masked in the ticker, kept in
the ledger), lines staff hid, and what the donor is told when they start a gift."""

from __future__ import annotations

import pytest
from django.db import transaction

from donations import ticker
from donations.models import Donation
from donations.selectors import RecentDonor, event_recent_donations, event_tally, recent_donors
from events import livebus
from tests.donations.factories import DonationFactory
from tests.donations.support import post_start, start_payload
from tests.factories import EventFactory
from tests.support.stripe import receive, succeeded

pytestmark = pytest.mark.django_db

RULES = ticker.TickerRules(name_min_minor=0, mask_profanity=True)


def _given(event, **fields) -> Donation:
    donation = DonationFactory(event=event, ticker_opt_in=True, **fields)
    receive(succeeded(donation))
    return donation


def _line(**fields) -> ticker.TickerText:
    values = {
        "rules": RULES, "gift_minor": 2_500, "anonymous": False, "display_name": "",
        "first_name": "Ada", "city": "", "region": "", "message": "",
    }  # fmt: skip
    values.update(fields)
    return ticker.ticker_text(**values)


@pytest.mark.parametrize(
    ("city", "region", "name"),
    [
        ("", "Ohio", "Ada from Ohio"),
        ("Columbus", "OH", "Ada in Columbus, OH"),
        ("Columbus", "", "Ada in Columbus"),
        ("", "", "Ada"),
    ],
)
def test_the_default_display_is_the_first_name_and_where_the_donor_is_from(city, region, name):
    assert _line(city=city, region=region).name == name


def test_the_default_display_never_shows_the_last_name(live_event):
    _given(live_event, first_name="Ada", last_name="Lovelace", region="Ohio")

    assert recent_donors(event_id=live_event.pk) == [
        RecentDonor(display_name="Ada from Ohio", amount_minor=2_500, message="")
    ]


def test_a_typed_display_name_wins_and_anonymous_hides_every_name():
    assert _line(display_name="The Lovelaces", region="Ohio").name == "The Lovelaces"
    assert _line(display_name="The Lovelaces", anonymous=True).name == "Anonymous"
    assert _line(first_name="", region="Ohio").name == "Anonymous"


def test_a_gift_below_the_campaigns_minimum_shows_as_someone_without_its_message(live_event):
    campaign = live_event.campaign
    campaign.ticker_name_min_minor = 1_000
    campaign.save()
    _given(live_event, gift_minor=500, display_name="Ada", message="Hi!")
    _given(live_event, gift_minor=1_000, display_name="Grace", message="Onward")

    assert event_tally(event_id=live_event.pk).recent == [
        RecentDonor(display_name="Grace", amount_minor=1_000, message="Onward"),
        RecentDonor(display_name="Someone", amount_minor=500, message=""),
    ]


def test_the_minimum_counts_the_gift_before_covered_fees(live_event):
    live_event.campaign.ticker_name_min_minor = 1_000
    live_event.campaign.save()
    _given(live_event, gift_minor=900, fee_minor=200, display_name="Ada")

    assert recent_donors(event_id=live_event.pk) == [
        RecentDonor(display_name="Someone", amount_minor=1_100, message="")
    ]


def test_profanity_is_masked_in_the_ticker_and_kept_in_the_ledger(live_event):
    donation = _given(live_event, display_name="Ada", message="Go team, shit yeah!")

    assert event_tally(event_id=live_event.pk).recent == [
        RecentDonor(
            display_name="Ada", amount_minor=2_500, message="Go team, **** yeah!", masked=True
        )
    ]
    donation.refresh_from_db()
    assert donation.message == "Go team, shit yeah!"


def test_a_profane_display_name_is_masked_too():
    line = _line(display_name="Shit Happens", message="Go team!")

    assert (line.name, line.message, line.masked) == ("**** Happens", "Go team!", True)


def test_a_campaign_may_turn_the_filter_off(live_event):
    live_event.campaign.ticker_profanity_filter = False
    live_event.campaign.save()
    _given(live_event, display_name="Ada", message="shit yeah")

    assert recent_donors(event_id=live_event.pk)[0].message == "shit yeah"


def test_clean_messages_and_html_pass_the_filter_unchanged():
    payload = '<img src=x onerror="window.__xss=1"> Go team! 🎉 Class assessment'

    assert _line(message=payload) == ticker.TickerText(name="Ada", message=payload, masked=False)


def test_a_hidden_line_leaves_the_ticker_and_showing_it_brings_it_back(live_event):
    shown = _given(live_event, display_name="Ada")
    hidden = _given(live_event, display_name="Troll")

    ticker.set_ticker_hidden(
        event_id=live_event.pk, donation_id=hidden.pk, hidden=True, by_user_id=None
    )
    assert [d.display_name for d in event_tally(event_id=live_event.pk).recent] == ["Ada"]
    assert [d.display_name for d in recent_donors(event_id=live_event.pk)] == ["Ada"]

    ticker.set_ticker_hidden(
        event_id=live_event.pk, donation_id=hidden.pk, hidden=False, by_user_id=None
    )
    assert [d.display_name for d in recent_donors(event_id=live_event.pk)] == ["Troll", "Ada"]
    assert shown.pk != hidden.pk


def test_hiding_a_line_keeps_the_tally(live_event):
    donation = _given(live_event, display_name="Troll")
    before = event_tally(event_id=live_event.pk)

    ticker.set_ticker_hidden(
        event_id=live_event.pk, donation_id=donation.pk, hidden=True, by_user_id=None
    )

    after = event_tally(event_id=live_event.pk)
    assert (after.raised_minor, after.donors, after.donations, after.recent) == (
        before.raised_minor, before.donors, before.donations, []
    )  # fmt: skip


def test_hiding_tells_the_live_room_only_after_commit(live_event, monkeypatch):
    donation = _given(live_event, display_name="Troll")
    told: list[dict] = []
    monkeypatch.setattr(livebus, "publish_change", lambda **kwargs: told.append(kwargs))

    with transaction.atomic():
        ticker.set_ticker_hidden(
            event_id=live_event.pk, donation_id=donation.pk, hidden=True, by_user_id=None
        )
        assert told == []

    assert told == [{"event_id": live_event.pk, "kind": "tally"}]


def test_hiding_another_events_donation_is_refused_and_changes_nothing(live_event):
    other = _given(EventFactory(status="live"), display_name="Ada")

    with pytest.raises(Donation.DoesNotExist), transaction.atomic():
        ticker.set_ticker_hidden(
            event_id=live_event.pk, donation_id=other.pk, hidden=True, by_user_id=None
        )

    other.refresh_from_db()
    assert other.ticker_hidden is False


def test_the_tally_with_its_ticker_rules_still_takes_three_queries(
    live_event, django_assert_num_queries
):
    for message in ("Go!", "shit", ""):
        _given(live_event, display_name="Ada", message=message)

    with django_assert_num_queries(3):
        event_tally(event_id=live_event.pk)


def test_staff_see_each_donations_ticker_line_and_whether_it_is_hidden(live_event):
    in_ticker = _given(live_event, first_name="Ada", region="Ohio", message="shit yeah")
    private = DonationFactory(event=live_event, ticker_opt_in=False)
    receive(succeeded(private))
    ticker.set_ticker_hidden(
        event_id=live_event.pk, donation_id=in_ticker.pk, hidden=True, by_user_id=None
    )

    rows = {row.donation_id: row for row in event_recent_donations(event_id=live_event.pk, limit=5)}

    assert (rows[in_ticker.pk].in_ticker, rows[in_ticker.pk].ticker_hidden) == (True, True)
    assert rows[in_ticker.pk].ticker_line == "Ada from Ohio — $25 — “**** yeah”"
    assert (rows[private.pk].in_ticker, rows[private.pk].ticker_line) == (False, "")


@pytest.mark.usefixtures("stripe_settings")
def test_the_donor_is_told_how_their_line_will_read_masked_words_included(client, event):
    response = post_start(
        client,
        event,
        start_payload(
            event, ticker_opt_in=True, first_name="Ada", message="shit yeah", cover_fees=False
        ),
    )

    assert response.status_code == 200
    assert response.json()["ticker"] == {
        "name": "Ada",
        "amount": 2_500,
        "message": "**** yeah",
        "masked": True,
    }
    assert Donation.objects.get().message == "shit yeah"


def test_the_donate_panel_carries_the_campaigns_ticker_rules(client, settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.ALLOW_SIMULATED_PAYMENTS = True
    event = EventFactory(status="live")
    event.campaign.ticker_name_min_minor = 1_000
    event.campaign.ticker_profanity_filter = False
    event.campaign.save()

    page = client.get(event.get_absolute_url())

    assert page.status_code == 200
    text = page.content.decode()
    assert '"tickerNameMinMinor": 1000' in text
    assert '"tickerFilter": false' in text
    assert "data-donate-ticker-preview" in text
