"""Helpers of the events tests: the campaign admin's form as a browser posts it."""

from __future__ import annotations

from typing import Any

from events.models import Campaign


def campaign_form_data(campaign: Campaign, **fields: Any) -> dict[str, Any]:
    """The campaign change form's fields for `campaign` (no attestation or membership rows,
    unticked boxes left out as a browser leaves them), with `fields` added or replacing."""
    data: dict[str, Any] = {
        "name": campaign.name,
        "slug": campaign.slug,
        "legal_name": campaign.legal_name,
        "kind": campaign.kind,
        "ein": campaign.ein,
        "currency": campaign.currency,
        "min_donation_minor": "5",
        "max_donation_minor": "",
        "per_donor_limit_minor": "",
        "election_limit_minor": "",
        "itemization_threshold_minor": "",
        "foreign_address_policy": campaign.foreign_address_policy,
        "require_name": "on",
        "require_email": "on",
        "ticker_name_min_minor": "0",
        "elections-TOTAL_FORMS": "0",
        "elections-INITIAL_FORMS": "0",
        "attestations-TOTAL_FORMS": "0",
        "attestations-INITIAL_FORMS": "0",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    data.update(fields)
    return data
