"""The tag of the staff's pinned ask, recorded on the gifts that answer it (donations.asks)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from donations import exports
from donations.models import Donation
from engagement.asks import create_ask, run_ask
from engagement.models import Ask
from tests.donations.support import one_tap_body, post_one_tap, post_start, start_payload
from tests.factories import EventFactory

pytestmark = pytest.mark.usefixtures("simulated_settings")


def pinned_ask(event, tag="ask-27-9pm"):
    ask = create_ask(
        event_id=event.pk, text="Give $27 now", amount_minor=2_700, tag=tag, by_user_id=None
    )
    return run_ask(event_id=event.pk, ask_id=ask.pk, action="pin", by_user_id=None)


def test_a_gift_given_while_an_ask_is_pinned_records_its_tag(client, event):
    pinned_ask(event)

    response = post_start(client, event, start_payload(event, ask_tag="ask-27-9pm"))

    assert response.status_code == 200, response.content
    assert Donation.objects.get().ask_tag == "ask-27-9pm"


def test_the_tag_of_an_ask_taken_down_minutes_ago_is_still_recorded(client, event):
    ask = pinned_ask(event)
    run_ask(event_id=event.pk, ask_id=ask.pk, action="unpin", by_user_id=None)
    Ask.objects.filter(pk=ask.pk).update(unpinned_at=timezone.now() - timedelta(minutes=4))

    post_start(client, event, start_payload(event, ask_tag="ask-27-9pm"))

    assert Donation.objects.get().ask_tag == "ask-27-9pm"


@pytest.mark.parametrize("case", ["unknown", "long_gone", "other_event", "never_pinned"])
def test_a_tag_that_is_not_a_current_ask_is_dropped_and_the_gift_goes_on(client, event, case):
    ask = pinned_ask(event, tag="ask-1")
    tag = "ask-1"
    if case == "unknown":
        tag = "forged-tag"
    elif case == "long_gone":
        run_ask(event_id=event.pk, ask_id=ask.pk, action="unpin", by_user_id=None)
        Ask.objects.filter(pk=ask.pk).update(unpinned_at=timezone.now() - timedelta(minutes=6))
    elif case == "other_event":
        other = EventFactory(campaign=event.campaign)
        pinned_ask(other, tag="ask-other")
        tag = "ask-other"
    elif case == "never_pinned":
        create_ask(event_id=event.pk, text="Later", amount_minor=500, tag="ask-2", by_user_id=None)
        tag = "ask-2"

    response = post_start(client, event, start_payload(event, ask_tag=tag))

    assert response.status_code == 200, response.content
    assert Donation.objects.get(event=event).ask_tag == ""


@pytest.mark.parametrize("tag", ["<script>", "Ask 27", "a" * 41, "x" * 101])
def test_a_malformed_tag_is_refused_and_nothing_is_created(client, event, tag):
    pinned_ask(event)

    response = post_start(client, event, start_payload(event, ask_tag=tag))

    assert response.status_code == 400
    assert response.json() == {
        "error": "The ask you answered was not understood. Reload the page and try again.",
        "field": "ask_tag",
    }
    assert not Donation.objects.exists()


def test_the_staff_export_shows_the_ask_tag(client, event):
    pinned_ask(event)
    post_start(client, event, start_payload(event, ask_tag="ask-27-9pm"))

    [row] = list(exports.donation_rows(campaign=event.campaign))

    assert row[exports.HEADER.index("ask_tag")] == "ask-27-9pm"


def test_a_one_tap_gift_while_an_ask_is_pinned_records_its_tag(client, event):
    started = post_start(client, event, start_payload(event, save_card=True)).json()
    confirmed = client.post(
        "/donations/simulated/confirm/",
        data={"donation_id": started["donation_id"], "client_secret": started["client_secret"]},
        content_type="application/json",
    )
    assert confirmed.status_code == 200
    pinned_ask(event)

    tapped = post_one_tap(client, event, one_tap_body(event, ask_tag="ask-27-9pm"))
    forged = post_one_tap(client, event, one_tap_body(event, ask_tag="x" * 101))

    assert tapped.status_code == 200, tapped.content
    assert Donation.objects.get(pk=tapped.json()["donation_id"]).ask_tag == "ask-27-9pm"
    assert forged.status_code == 400
    assert forged.json()["field"] == "ask_tag"
    assert Donation.objects.count() == 2
