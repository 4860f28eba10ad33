"""Who gave: the donor's details as one value, from the donate panel's form to the ledger row,
a later month's row, the provider's customer and a saved donor's details. Add a field here and
on `Donation` (same name) and it travels everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DonorDetails:
    email: str
    first_name: str = ""
    last_name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    employer: str = ""
    occupation: str = ""

    @classmethod
    def from_input(cls, data: Mapping[str, str]) -> DonorDetails:
        """From what the donor typed (a form's cleaned data): trimmed, the email in lower case
        (limits and receipts go by email), the country code in upper case."""
        values = {name: data[name].strip() for name in DONOR_FIELDS}
        values["email"] = values["email"].lower()
        values["country"] = values["country"].upper()
        return cls(**values)

    @classmethod
    def of(cls, row: Any) -> DonorDetails:
        """The details stored on a row with the same field names (a Donation)."""
        return cls(**{name: getattr(row, name) for name in DONOR_FIELDS})

    @classmethod
    def from_saved(cls, data: Mapping[str, Any], *, email: str) -> DonorDetails:
        """The details a saved donor keeps as JSON (as_fields()): a field added since is ""."""
        values = {name: str(data.get(name) or "") for name in DONOR_FIELDS}
        values["email"] = email
        return cls(**values)

    def as_fields(self) -> dict[str, str]:
        """Keyword arguments for a row with the same field names (Donation(**...))."""
        return asdict(self)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


DONOR_FIELDS = tuple(f.name for f in fields(DonorDetails))
