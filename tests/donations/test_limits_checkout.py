"""A gift past the room left for its election: the refusal offers the room and, with the donor's
consent, the rest to the next election of the cycle in the same charge; a forged, edited or
replayed consent, or a designation elsewhere, is refused and changes nothing."""

from __future__ import annotations

import uuid

import pytest
from django.core import signing

from donations.compliance.consent import SALT
from donations.compliance.identity import donor_key
from donations.donors import DonorDetails
from donations.models import Donation
from tests.donations.factories import DonationFactory
from tests.donations.support import ITEMIZED, post_start, start_payload
from tests.factories import CampaignFactory, ElectionFactory, EventFactory

pytestmark = pytest.mark.usefixtures("stripe_settings")

ADA = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
ADA_HOME = {**ADA, "postal_code": "20500", "country": "US"}


@pytest.fixture
def race():
    """A federal candidate committee's live event; a primary in 30 days, a general in 150."""
    campaign = CampaignFactory(kind="federal_candidate", paid_for_by="Paid for by Alpha")
    primary = ElectionFactory(campaign=campaign, kind="primary", days=30)
    general = ElectionFactory(campaign=campaign, kind="general", days=150)
    return EventFactory(campaign=campaign, status="live"), primary, general


def given(event, election, amount_minor, **details):
    details = {**ADA_HOME, **details}
    return DonationFactory(
        event=event,
        gift_minor=amount_minor,
        succeeded_seen=True,
        status="succeeded",
        net_minor=amount_minor,
        election=election,
        election_minor=amount_minor,
        donor_key=donor_key(DonorDetails(**details)),
        **details,
    )


def offer(client, event, amount_minor=100_000, **fields):
    """Start a gift past the room; return (the body sent, the refusal's JSON)."""
    body = start_payload(event, amount_minor=amount_minor, **{**ITEMIZED, **ADA_HOME, **fields})
    response = post_start(client, event, body)
    assert response.status_code == 400, response.content
    return body, response.json()


def consent(body, answer, **changes):
    """The same attempt again, with the donor's consent to the offer."""
    designation = {"split_to": answer["next_election"]["id"], "consent": answer["consent"]}
    return {**body, "designation": designation, **changes}


def nothing_created(count_before, stripe_settings, intents_before=0):
    assert Donation.objects.count() == count_before
    assert len(stripe_settings.intents) == intents_before
    return True


def test_a_gift_past_the_room_is_offered_the_room_and_the_rest_to_the_general(client, race):
    event, primary, general = race
    given(event, primary, 300_000)

    _body, answer = offer(client, event, amount_minor=100_000)

    assert set(answer) == {
        "error",
        "field",
        "room_minor",
        "excess_minor",
        "election",
        "next_election",
        "consent",
    }
    assert answer["error"] == (
        f"This would take you past the contribution limit for the {primary.name}: you can give "
        f"at most $500 more (fees included). With your consent, $500 can go to the "
        f"{general.name} instead, in the same payment."
    )
    assert (answer["field"], answer["room_minor"], answer["excess_minor"]) == (
        "amount_minor",
        50_000,
        50_000,
    )
    assert answer["election"] == {"id": primary.pk, "name": primary.name}
    assert answer["next_election"] == {"id": general.pk, "name": general.name}
    assert isinstance(answer["consent"], str)
    assert Donation.objects.count() == 1


def test_with_consent_one_charge_carries_two_designations(client, race, stripe_settings):
    event, primary, general = race
    given(event, primary, 300_000)
    body, answer = offer(client, event, amount_minor=100_000)

    response = post_start(client, event, consent(body, answer))

    assert response.status_code == 200, response.content
    assert response.json()["designation"] == [
        {"election": {"id": primary.pk, "name": primary.name}, "amount_minor": 50_000},
        {"election": {"id": general.pk, "name": general.name}, "amount_minor": 50_000},
    ]
    split = Donation.objects.get(attempt_key=body["attempt_key"])
    assert (split.amount_minor, split.election_id, split.election_minor) == (
        100_000,
        primary.pk,
        50_000,
    )
    assert (split.split_election_id, split.split_minor) == (general.pk, 50_000)
    [intent] = stripe_settings.intents.values()
    assert intent["amount"] == 100_000
    # The primary is full; the general's room counts the excess: $3,000 left, not $3,500.
    _, too_much = offer(client, event, amount_minor=300_001)
    _, fits = offer(client, event, amount_minor=300_000)
    assert (too_much["room_minor"], too_much["next_election"]) == (0, None)
    assert fits["next_election"] == {"id": general.pk, "name": general.name}


def test_a_primary_maxed_out_gives_the_whole_gift_to_the_general_with_consent(client, race):
    event, primary, general = race
    given(event, primary, 350_000)
    body, answer = offer(client, event, amount_minor=10_000)
    assert (answer["room_minor"], answer["excess_minor"]) == (0, 10_000)

    response = post_start(client, event, consent(body, answer))

    assert response.status_code == 200, response.content
    gift = Donation.objects.get(attempt_key=body["attempt_key"])
    assert (gift.election_id, gift.election_minor, gift.split_election_id) == (
        general.pk,
        10_000,
        None,
    )


def test_a_forged_consent_is_refused_and_nothing_changes(client, race, stripe_settings):
    event, primary, general = race
    given(event, primary, 300_000)
    body, answer = offer(client, event)
    fields = signing.loads(answer["consent"], salt=SALT)
    forged = [
        "not-a-token",
        answer["consent"][:-2] + "xx",
        signing.dumps({**fields, "r": 100_000}, salt="another-salt"),
        signing.dumps(fields, key="guessed-secret-key", salt=SALT),
    ]
    for token in forged:
        response = post_start(
            client, event, {**body, "designation": {"split_to": general.pk, "consent": token}}
        )
        assert response.status_code == 400, token
        assert response.json() == {
            "error": "This consent was not given for this gift. Please confirm again where the "
            "rest of your gift goes.",
            "field": "designation",
        }
    assert nothing_created(1, stripe_settings)


CHARLES = {"email": "charles@example.com", "first_name": "Charles", "last_name": "Babbage"}


@pytest.mark.parametrize(
    "changes",
    [
        {"attempt_key": "another"},  # replayed for another attempt
        {"amount_minor": 120_000},  # for another amount
        CHARLES,  # by another donor, whose room is the same
    ],
)
def test_a_consent_replayed_for_another_gift_or_donor_is_refused(
    client, race, stripe_settings, changes
):
    event, primary, _ = race
    given(event, primary, 300_000)
    given(event, primary, 300_000, **CHARLES)
    if "attempt_key" in changes:
        changes = {"attempt_key": str(uuid.uuid4())}
    body, answer = offer(client, event)

    response = post_start(client, event, consent(body, answer, **changes))

    assert response.status_code == 400
    assert response.json()["field"] == "designation"
    assert nothing_created(2, stripe_settings)


def test_a_consent_used_twice_for_its_own_attempt_makes_one_donation(client, race, stripe_settings):
    event, primary, _ = race
    given(event, primary, 300_000)
    body, answer = offer(client, event)

    first = post_start(client, event, consent(body, answer))
    again = post_start(client, event, consent(body, answer))

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["donation_id"] == again.json()["donation_id"]
    assert nothing_created(2, stripe_settings, intents_before=1)


def test_the_excess_sent_to_another_campaigns_election_is_refused(client, race, stripe_settings):
    event, primary, _ = race
    given(event, primary, 300_000)
    body, answer = offer(client, event)
    theirs = ElectionFactory(kind="general", days=150)

    response = post_start(
        client,
        event,
        {**body, "designation": {"split_to": theirs.pk, "consent": answer["consent"]}},
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "That election is not one of this campaign's. Reload the page.",
        "field": "designation",
    }
    assert nothing_created(1, stripe_settings)


def test_the_excess_sent_to_a_past_or_a_later_election_than_offered_is_refused(
    client, race, stripe_settings
):
    event, primary, general = race
    given(event, primary, 300_000)
    past = ElectionFactory(campaign=event.campaign, kind="special", days=-10)
    runoff = ElectionFactory(campaign=event.campaign, kind="runoff", days=170)
    body, answer = offer(client, event)

    to_past = post_start(
        client, event, {**body, "designation": {"split_to": past.pk, "consent": answer["consent"]}}
    )
    to_runoff = post_start(
        client,
        event,
        {**body, "designation": {"split_to": runoff.pk, "consent": answer["consent"]}},
    )

    assert to_past.json() == {
        "error": f"The {past.name} is over: a gift can only be for an election ahead.",
        "field": "designation",
    }
    assert to_runoff.json() == {
        "error": f"The rest of this gift can only go to the {general.name}, the next election "
        f"after the {primary.name}.",
        "field": "designation",
    }
    assert nothing_created(1, stripe_settings)


def test_a_consent_given_before_another_gift_took_some_room_is_asked_again(
    client, race, stripe_settings
):
    event, primary, _ = race
    given(event, primary, 300_000)
    body, answer = offer(client, event)
    given(event, primary, 20_000)  # from another tab, meanwhile

    response = post_start(client, event, consent(body, answer))

    assert response.status_code == 400
    fresh = response.json()
    assert (fresh["field"], fresh["room_minor"], fresh["excess_minor"]) == (
        "amount_minor",
        30_000,
        70_000,
    )
    assert fresh["consent"] != answer["consent"]
    assert nothing_created(2, stripe_settings)
    assert post_start(client, event, consent(body, fresh)).status_code == 200


def test_no_offer_when_the_general_has_no_room_for_the_excess(client, race):
    event, primary, general = race
    given(event, primary, 300_000)
    given(event, general, 320_000)

    _, answer = offer(client, event, amount_minor=100_000)

    assert (answer["room_minor"], answer["next_election"], answer["consent"]) == (
        50_000,
        None,
        None,
    )
    assert answer["error"] == (
        f"This would take you past the contribution limit for the {primary.name}: you can give "
        "at most $500 more (fees included)."
    )


def test_no_offer_for_a_monthly_gift(client, race):
    event, primary, _ = race
    event.campaign.monthly_enabled = True
    event.campaign.save()
    given(event, primary, 300_000)

    _, answer = offer(client, event, amount_minor=100_000, monthly=True)

    assert (answer["room_minor"], answer["next_election"], answer["consent"]) == (
        50_000,
        None,
        None,
    )


def test_no_offer_across_cycles(client, race):
    event, primary, general = race
    general.cycle = primary.cycle + 2
    general.save()
    given(event, primary, 300_000)

    _, answer = offer(client, event, amount_minor=100_000)

    assert answer["next_election"] is None
