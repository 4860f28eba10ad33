"""The donor's details as one value (donations.donors)."""

from __future__ import annotations

from donations.donors import DONOR_FIELDS, DonorDetails
from tests.donations.factories import DonationFactory


def test_what_the_donor_typed_is_trimmed_with_the_email_lower_and_the_country_upper():
    typed = {name: f"  {name} " for name in DONOR_FIELDS}
    typed |= {"email": " Ada@Example.COM ", "country": " gb "}

    donor = DonorDetails.from_input(typed)

    assert (donor.email, donor.country, donor.first_name, donor.occupation) == (
        "ada@example.com",
        "GB",
        "first_name",
        "occupation",
    )


def test_a_donations_details_are_the_ones_it_was_created_with():
    donor = DonorDetails(
        email="ada@example.com", first_name="Ada", last_name="Lovelace", city="London"
    )

    donation = DonationFactory(**donor.as_fields())

    donation.refresh_from_db()
    assert donation.donor == donor
    assert donation.donor.full_name == "Ada Lovelace"
