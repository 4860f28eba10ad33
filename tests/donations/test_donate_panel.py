"""The donate panel as the event page serves it: which fields each step holds, the required
ones marked for eyes and screen readers, the wallets in the step where they can finish, and
the server's own words for an empty field handed to the panel's script."""

from __future__ import annotations

import json
import re

from donations.rules import missing_field_messages
from events.models import Attestation
from tests.factories import CampaignFactory, EventFactory


def steps(client, event) -> tuple[dict[int, str], dict]:
    """The page's three steps (their HTML, by number) and the panel's script configuration."""
    page = client.get(event.get_absolute_url()).content.decode()
    config = json.loads(
        re.search(r'<script id="donate-config" type="application/json">(.*?)</script>', page)[1]
    )
    parts = re.split(r'data-donate-step="(\d)"', page)
    by_number = {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}
    by_number[3] = by_number[3].split("data-donate-error")[0]  # the step, not what follows it
    return by_number, config


def test_each_step_holds_its_fields_and_marks_the_required_ones(client, simulated_settings):
    campaign = CampaignFactory(require_address=True, require_employer=True)
    Attestation.objects.create(campaign=campaign, text="I am a U.S. citizen.")
    event = EventFactory(campaign=campaign, status="live", suggested_amounts=[2_500, 5_000])

    step, config = steps(client, event)

    assert 'data-amount-minor="2500"' in step[1]
    assert 'name="custom_amount"' in step[1]
    assert 'name="cover_fees"' in step[1]
    assert "<div data-donate-returning hidden></div>" in step[1]
    assert 'name="email"' not in step[1]
    for name in ("email", "first_name", "last_name", "address_line1", "city", "postal_code",
                 "country", "employer"):  # fmt: skip
        field = re.search(rf'<input [^>]*name="{name}"[^>]*>', step[2])[0]
        assert " required" in field, name
        assert 'aria-required="true"' in field, name
    assert 'name="occupation"' not in step[2]  # not required here: not asked
    assert re.search(r'<label for="donate-email">Email <span class="donate-req"', step[2])
    assert 'name="display_name"' in step[2].split("<details")[1]  # behind the disclosure
    assert 'name="attestation"' in step[3]
    assert 'name="save_card"' in step[3]
    assert config["messages"]["employer"] == missing_field_messages()["employer"]
    assert config["messages"]["email"] == "Your email address is required for your receipt."


def test_a_field_the_campaign_does_not_require_says_it_is_optional(client, simulated_settings):
    event = EventFactory(campaign=CampaignFactory(require_name=False), status="live")

    step, _ = steps(client, event)

    first = re.search(r'<input [^>]*name="first_name"[^>]*>', step[2])[0]
    assert " required" not in first
    assert "aria-required" not in first
    assert 'First name <span class="donate-optional">(optional)</span>' in step[2]


def test_the_wallets_sit_with_the_amounts_only_when_they_give_all_the_campaign_requires(
    client, stripe_settings
):
    plain = EventFactory(status="live", campaign=CampaignFactory(require_address=True))
    employer = EventFactory(status="live", campaign=CampaignFactory(require_employer=True))
    attested = EventFactory(status="live")
    Attestation.objects.create(campaign=attested.campaign, text="I am a U.S. citizen.")

    plain_steps, plain_config = steps(client, plain)
    assert "data-donate-express" in plain_steps[1]
    assert "data-donate-express" not in plain_steps[3]
    assert plain_config["walletAddress"] is True
    for event in (employer, attested):
        step, _ = steps(client, event)
        assert "data-donate-express" not in step[1]
        assert "data-donate-express" in step[3]


def test_a_campaign_that_itemizes_asks_the_itemized_details_as_optional(client, simulated_settings):
    event = EventFactory(campaign=CampaignFactory(kind="federal_candidate"), status="live")

    step, _ = steps(client, event)

    for name in ("address_line1", "city", "postal_code", "country", "employer", "occupation"):
        field = re.search(rf'<input [^>]*name="{name}"[^>]*>', step[2])[0]
        assert " required" not in field, name
        assert "aria-required" not in field, name
    assert 'Employer <span class="donate-optional">(optional)</span>' in step[2]
    assert 'Street address <span class="donate-optional">(optional)</span>' in step[2]
    # A non-US address needs a passport number here: its field waits, hidden, for the server.
    assert re.search(r'<div class="donate-field" data-donate-passport hidden>', step[2])
    assert 'name="us_passport_number"' in step[2]


def test_a_campaign_that_does_not_itemize_asks_no_itemized_details(client, simulated_settings):
    event = EventFactory(campaign=CampaignFactory(kind="nonprofit", ein="12-3456789"),
                         status="live")  # fmt: skip

    step, _ = steps(client, event)

    for name in ("address_line1", "employer", "occupation", "us_passport_number"):
        assert f'name="{name}"' not in step[2], name
