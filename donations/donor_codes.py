"""Returning donors on another device: "Given before? Get a code by email". A right code, typed
within its 10 minutes and its 5 tries, unlocks the address's newest usable saved card on that
browser (the caller sets its cookie). The codes are made, hashed and emailed by
donations.donor_code_mail; the rate limits per address and per email are donations.defence's.

Every address that asks is answered alike, whether or not it has a saved card: the same reply,
a row and a code (emailed only to an address with a saved card), so a wrong, expired, used or
exhausted code reads the same for any address.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from donations import saved_donors
from donations.donor_code_mail import CODE_TTL, MAX_ATTEMPTS, code_hash
from donations.models import DonorCode, SavedDonor
from donations.rules import DonationRefused
from donations.tasks import send_donor_code_task

SENT_ANSWER = (
    "If a card is saved for this address, a 6-digit code is on its way to it. "
    f"It works for {int(CODE_TTL.total_seconds() // 60)} minutes."
)


def request_code(*, email: str) -> None:
    """A new code for `email` (lower case): its row (one per address) is due again, any
    earlier code of the address stops working, and its tries start again. The email goes out
    after commit (and from the periodic sender if the broker is away)."""
    with transaction.atomic():
        row, _ = DonorCode.objects.update_or_create(
            email=email,
            defaults={
                "requested_at": timezone.now(),
                "sent_at": None,
                "code_hash": "",
                "expires_at": None,
                "attempts": 0,
                "used_at": None,
            },
        )
        code_id = row.pk

        def send_code() -> None:
            send_donor_code_task.delay(code_id)

        # robust: a failed send is logged (by the task's name) and left to the periodic
        # sender; the donor's answer is the same either way.
        transaction.on_commit(send_code, robust=True)


def check_code(*, email: str, code: str) -> SavedDonor:
    """The saved card a right code for `email` unlocks; the code is then used up. Every try
    counts against the code's MAX_ATTEMPTS, under the row's lock (concurrent tries cannot
    exceed it). Raises DonationRefused: 400 for a code never asked for, wrong, expired or
    used; 429 once the code's tries are spent; 404 for a right code whose address no longer
    has a usable card."""
    now = timezone.now()
    with transaction.atomic():
        row = DonorCode.objects.select_for_update().filter(email=email).first()
        refusal = _refusal(row, code=code, now=now)
        if row is not None and refusal is None:
            row.used_at = now
        if row is not None and (refusal is None or refusal.field == "code"):
            row.attempts += 1
            row.save(update_fields=["attempts", "used_at"])
    if refusal is not None:
        raise refusal
    saved = saved_donors.newest_usable_for(email=email)
    if saved is None:
        raise DonationRefused(
            "There is no saved card for this address any more. Please give with the form.",
            status=404,
        )
    return saved


def _refusal(row: DonorCode | None, *, code: str, now: datetime) -> DonationRefused | None:
    """Why the code is refused (None: it is right). A wrong try is the only one counted
    (field "code")."""
    if row is None or row.sent_at is None or row.expires_at is None:
        return DonationRefused("Ask for a code first, then type the one in the email.")
    if row.used_at is not None:
        return DonationRefused("That code was already used. Ask for a new code.")
    if row.expires_at <= now:
        return DonationRefused("That code has expired. Ask for a new code.")
    if row.attempts >= MAX_ATTEMPTS:
        return DonationRefused("Too many wrong codes. Ask for a new code.", status=429)
    if constant_time_compare(code_hash(code_id=row.pk, code=code), row.code_hash):
        return None
    left = MAX_ATTEMPTS - row.attempts - 1
    if left == 0:
        return DonationRefused(
            "That code is not right, and that was the last try. Ask for a new code.",
            field="code",
        )
    tries = "1 try" if left == 1 else f"{left} tries"
    return DonationRefused(
        f"That code is not right. Check the 6 digits in the latest email ({tries} left).",
        field="code",
    )
