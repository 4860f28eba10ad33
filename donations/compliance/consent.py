"""The donor's consent to give the excess over an election's limit to a later election, as a
signed token: the refusal hands it out, the donor's next start with the same attempt sends it
back (`designation.consent`). It binds what the donor saw and agreed to (the campaign, the
attempt, the amount, the two elections, the room left in the first) and who they are (a
digest of their identity key and email), so a token forged, edited, or replayed for another
gift, attempt or donor is refused. It expires after CONSENT_MAX_AGE."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from django.core import signing

SALT = "donations.designation-consent"
CONSENT_MAX_AGE = 30 * 60


class ConsentInvalid(Exception):
    """A token we did not sign, or signed for something else."""


class ConsentStale(Exception):
    """A token we signed for this gift, that no longer says what is true: it expired, or the
    room left in the election changed since (another gift or a refund): ask again."""


@dataclass(frozen=True)
class SplitOffer:
    """What the donor is asked to agree to."""

    campaign_id: int
    attempt_key: uuid.UUID
    amount_minor: int
    election_id: int
    next_election_id: int
    room_minor: int
    donor_key: str
    email: str

    def _fields(self) -> dict[str, object]:
        who = hashlib.sha256(f"{self.donor_key}|{self.email}".encode()).hexdigest()[:24]
        return {
            "c": self.campaign_id,
            "a": str(self.attempt_key),
            "m": self.amount_minor,
            "f": self.election_id,
            "n": self.next_election_id,
            "r": self.room_minor,
            "d": who,
        }

    def token(self) -> str:
        return signing.dumps(self._fields(), salt=SALT, compress=False)

    def check(self, token: str) -> None:
        """Pass when `token` is this offer's, signed by us within CONSENT_MAX_AGE. Raises
        ConsentInvalid for a token we did not sign or signed for another gift, attempt, amount,
        election or donor; ConsentStale for this gift's token that expired or was given for
        another room."""
        try:
            signed = signing.loads(token, salt=SALT, max_age=CONSENT_MAX_AGE)
        except signing.SignatureExpired:
            raise ConsentStale from None
        except signing.BadSignature:
            raise ConsentInvalid from None
        expected = self._fields()
        if not isinstance(signed, dict) or {**signed, "r": expected["r"]} != expected:
            raise ConsentInvalid
        if signed["r"] != expected["r"]:
            raise ConsentStale
