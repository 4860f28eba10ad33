"""One-tap gifts with the simulated provider (a saved "Visa •• 4242"), and everything that must
never charge a saved card: no cookie, a forged, tampered, expired or foreign one, a revoked or
expired card, a campaign that needs details the saved ones lack, the rules and limits of any
gift, a stale page, too many tries, no CSRF token. Each refusal creates nothing."""

from __future__ import annotations

import time

import pytest
from django.core import signing
from django.test import Client, override_settings
from django.utils import timezone

from donations.models import Donation, SavedDonor
from donations.saved_donors import COOKIE
from donations.selectors import event_tally
from liveroom import attendees
from tests.donations.support import one_tap_body, post_one_tap, post_start, start_payload
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.usefixtures("simulated_settings")

NOT_HERE = "Your saved card is not available on this device. Please give with the form."


def confirm(client, started):
    return client.post(
        "/donations/simulated/confirm/",
        data={"donation_id": started["donation_id"], "client_secret": started["client_secret"]},
        content_type="application/json",
    )


def give_and_save(client, event, **overrides):
    started = post_start(client, event, start_payload(event, save_card=True, **overrides)).json()
    assert confirm(client, started).status_code == 200
    return SavedDonor.objects.get(donation_id=started["donation_id"])


def refused_and_nothing_made(response, status, message, *, before):
    assert response.status_code == status, response.content
    assert response.json()["error"] == message
    assert Donation.objects.count() == before
    return True


def test_a_saved_donor_gives_again_in_one_tap(client, event):
    give_and_save(client, event)
    assert client.get("/donations/saved/").json() == {"card": "Visa •• 4242", "first_name": "Ada"}

    started = post_one_tap(client, event, one_tap_body(event, amount_minor=10_000))

    assert started.status_code == 200, started.content
    assert started.json()["provider"] == "simulated"
    assert started.json()["payment_method"].startswith("sim_pm_")
    assert confirm(client, started.json()).status_code == 200
    gift = Donation.objects.get(pk=started.json()["donation_id"])
    assert (gift.status, gift.email, gift.amount_minor) == ("succeeded", "ada@example.com", 10_000)
    assert event_tally(event_id=event.pk).raised_minor == 12_500


def test_without_a_cookie_nothing_is_charged(client, event):
    give_and_save(Client(), event)

    response = post_one_tap(client, event, one_tap_body(event))

    assert refused_and_nothing_made(response, 403, NOT_HERE, before=1)
    assert response.json()["field"] == "saved_card"


def _expired_cookie(token):
    class LastYear(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 366 * 24 * 3600)

    return LastYear(salt="donations.saved-donor").sign(token)


def _tampered_cookie(token):
    """The signature's last character changed (to another character, whatever it was)."""
    signed = signing.TimestampSigner(salt="donations.saved-donor").sign(token)
    return signed[:-1] + ("B" if signed.endswith("A") else "A")


def _other_key_cookie(token):
    with override_settings(SECRET_KEY="another-deployment-" + "x" * 40):
        return signing.TimestampSigner(salt="donations.saved-donor").sign(token)


@pytest.mark.parametrize(
    "make_cookie",
    [
        pytest.param(lambda token: "made-up-value", id="forged"),
        pytest.param(lambda token: token, id="unsigned-token"),
        pytest.param(_tampered_cookie, id="tampered"),
        pytest.param(_expired_cookie, id="expired"),
        pytest.param(_other_key_cookie, id="another-secret-key"),
        pytest.param(
            lambda token: signing.TimestampSigner(salt="liveroom.attendee").sign(token),
            id="another-salt",
        ),
        pytest.param(lambda token: attendees._signer().sign(token), id="the-attendee-cookie"),
    ],
)
def test_a_cookie_we_did_not_sign_for_this_never_charges_the_card(client, event, make_cookie):
    saved = give_and_save(Client(), event)
    client.cookies[COOKIE] = make_cookie(saved.token)

    offered = client.get("/donations/saved/")
    response = post_one_tap(client, event, one_tap_body(event))

    assert offered.status_code == 204
    assert offered.cookies[COOKIE].value == ""  # the browser drops it
    assert refused_and_nothing_made(response, 403, NOT_HERE, before=1)
    assert response.cookies[COOKIE]["max-age"] == 0


def test_a_revoked_card_is_not_offered_or_charged(client, event):
    saved = give_and_save(client, event)
    SavedDonor.objects.filter(pk=saved.pk).update(revoked_at=timezone.now())

    assert client.get("/donations/saved/").status_code == 204
    assert refused_and_nothing_made(
        post_one_tap(client, event, one_tap_body(event)), 403, NOT_HERE, before=1
    )


def test_an_expired_card_is_not_offered_or_charged(client, event):
    saved = give_and_save(client, event)
    assert client.get("/donations/saved/").status_code == 200  # the card's details are read
    SavedDonor.objects.filter(pk=saved.pk).update(card_exp_year=2020)

    assert client.get("/donations/saved/").status_code == 204
    assert refused_and_nothing_made(
        post_one_tap(client, event, one_tap_body(event)), 403, NOT_HERE, before=1
    )


def test_forget_this_device_stops_offering_the_card_here(client, event):
    give_and_save(client, event)

    forgot = client.post("/donations/saved/forget/")

    assert forgot.status_code == 204
    assert forgot.cookies[COOKIE]["max-age"] == 0
    assert client.get("/donations/saved/").status_code == 204
    assert refused_and_nothing_made(
        post_one_tap(client, event, one_tap_body(event)), 403, NOT_HERE, before=1
    )


def test_a_campaign_that_needs_details_the_saved_ones_lack_sends_the_donor_to_the_form(client):
    give_and_save(client, EventFactory(status="live"))
    strict = EventFactory(status="live", campaign=CampaignFactory(require_employer=True))

    response = post_one_tap(client, strict, one_tap_body(strict))

    assert refused_and_nothing_made(
        response,
        400,
        "Your employer is required (enter “None” if you have none). Your saved details do "
        "not include it: please give with the form.",
        before=1,
    )
    assert response.json()["field"] == "full_form"


def test_a_one_tap_gift_keeps_the_campaigns_rules_and_limits(client, campaign, event):
    give_and_save(client, event)
    campaign.per_donor_limit_minor = 5_000
    campaign.save(update_fields=["per_donor_limit_minor"])

    too_small = post_one_tap(client, event, one_tap_body(event, amount_minor=100))
    over_limit = post_one_tap(client, event, one_tap_body(event, amount_minor=3_000))

    assert refused_and_nothing_made(too_small, 400, "The minimum donation is $5.", before=1)
    assert refused_and_nothing_made(
        over_limit,
        400,
        "This would take you past this campaign's contribution limit: you can give at most "
        "$25 more (fees included).",
        before=1,
    )


def test_a_one_tap_gift_needs_the_campaigns_statements_confirmed(client):
    campaign = CampaignFactory()
    statement = campaign.attestations.create(text="I am a US citizen.")
    event = EventFactory(status="live", campaign=campaign)
    give_and_save(client, event, attestations=[statement.pk])

    refused = post_one_tap(client, event, one_tap_body(event))
    confirmed = post_one_tap(client, event, one_tap_body(event, attestations=[statement.pk]))

    assert refused.status_code == 400
    assert refused.json()["field"] == "attestations"
    assert confirmed.status_code == 200
    assert Donation.objects.get(pk=confirmed.json()["donation_id"]).attestations == [
        "I am a US citizen."
    ]


def test_a_stale_page_token_is_refused(client, event):
    give_and_save(client, event)
    other = EventFactory(status="live")

    response = post_one_tap(client, event, one_tap_body(other))

    assert refused_and_nothing_made(response, 403, "Reload the event page and try again.", before=1)


def test_one_tap_gifts_count_against_the_donors_rate_limit(client, event, settings):
    settings.DONATION_STARTS_PER_EMAIL = 2
    give_and_save(client, event)  # the first start

    statuses = [post_one_tap(client, event, one_tap_body(event)).status_code for _ in range(2)]

    assert statuses == [200, 429]
    assert Donation.objects.count() == 2


def test_a_bad_body_is_a_clear_400(client, event):
    give_and_save(client, event)

    response = post_one_tap(client, event, one_tap_body(event, amount_minor=12.5))

    assert refused_and_nothing_made(
        response, 400, "Enter the amount as a whole number of cents.", before=1
    )


def test_one_tap_requires_the_csrf_token(csrf_client, event):
    # Saving needs the token too: save with a plain client, then use its cookie.
    saver = Client()
    give_and_save(saver, event)
    csrf_client.cookies[COOKIE] = saver.cookies[COOKIE].value

    response = post_one_tap(csrf_client, event, one_tap_body(event))

    assert response.status_code == 403
    assert Donation.objects.count() == 1
