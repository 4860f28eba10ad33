"""What a donation charges, as one value: the gift the donor chose, the fees they cover, the
currency and how often (once, or each month). From the start of a donation to its row, the
donate panel's answer and a later month's row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Amounts:
    gift_minor: int
    fee_minor: int
    currency: str
    interval: str  # a donations.models.Interval value: "" once, "month" monthly

    @property
    def amount_minor(self) -> int:
        """What is charged: the gift plus the covered fees (a Donation's check constraint)."""
        return self.gift_minor + self.fee_minor

    @classmethod
    def of(cls, row: Any) -> Amounts:
        """The amounts stored on a row with the same field names (a Donation)."""
        return cls(
            gift_minor=row.gift_minor,
            fee_minor=row.fee_minor,
            currency=row.currency,
            interval=row.interval,
        )

    def as_fields(self) -> dict[str, int | str]:
        """These fields and `amount_minor`, as keyword arguments for a Donation (Donation(**...))
        or the keys of a JSON answer."""
        return {
            "gift_minor": self.gift_minor,
            "fee_minor": self.fee_minor,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "interval": self.interval,
        }
