"""The start-donation request: JSON from the donate panel, checked field by field before the
campaign's own rules (donations.rules, through services.start_donation) see it."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from donations.compliance.besteffort import ANSWER_FIELDS, InfoAnswer
from donations.donors import DONOR_FIELDS, DonorDetails
from donations.one_tap import OneTap
from donations.rules import DesignationChoice, DonationRequest

MAX_AMOUNT_MINOR = 99_999_999  # Stripe's ceiling for one charge in these currencies


class StartDonationForm(forms.Form):
    attempt_key = forms.UUIDField(error_messages={"required": "Reload the page and try again."})
    page_token = forms.CharField(
        max_length=500, error_messages={"required": "Reload the event page and try again."}
    )
    amount_minor = forms.IntegerField(
        min_value=1,
        max_value=MAX_AMOUNT_MINOR,
        error_messages={
            "required": "Choose an amount.",
            "invalid": "Enter the amount as a whole number of cents.",
            "min_value": "Choose an amount.",
            "max_value": "That amount is too large.",
        },
    )
    currency = forms.CharField(
        max_length=3, error_messages={"required": "The currency is missing."}
    )
    cover_fees = forms.BooleanField(required=False)
    email = forms.EmailField(
        max_length=254,
        error_messages={
            "required": "Your email address is required for your receipt.",
            "invalid": "Enter a valid email address.",
        },
    )
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    address_line1 = forms.CharField(max_length=200, required=False)
    address_line2 = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    region = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=20, required=False)
    country = forms.CharField(max_length=2, required=False)
    employer = forms.CharField(max_length=200, required=False)
    occupation = forms.CharField(max_length=200, required=False)
    attestations = forms.JSONField(required=False)
    ticker_opt_in = forms.BooleanField(required=False)
    anonymous = forms.BooleanField(required=False)
    hide_amount = forms.BooleanField(required=False)
    display_name = forms.CharField(
        max_length=60,
        required=False,
        error_messages={"max_length": "Keep your display name to %(limit_value)d characters."},
    )
    message = forms.CharField(
        max_length=140,
        required=False,
        error_messages={"max_length": "Keep your message to %(limit_value)d characters."},
    )
    refcode = forms.CharField(max_length=100, required=False)
    monthly = forms.BooleanField(required=False)
    # "Save my card and details for next time" (donations.saved_donors).
    save_card = forms.BooleanField(required=False)
    express = forms.BooleanField(required=False)
    us_passport_number = forms.CharField(max_length=20, required=False)
    # The pinned ask's tag (donations.asks decides whether it is recorded).
    ask_tag = forms.CharField(
        max_length=100,
        required=False,
        error_messages={
            "max_length": "The ask you answered was not understood. Reload the page and try again."
        },
    )
    # {"election": id} (the donor's choice), {"split_to": id, "consent": token} (the excess
    # over the limit to a later election, with the consent the refusal handed out).
    designation = forms.JSONField(
        required=False,
        error_messages={
            "invalid": "The election you chose was not understood. Reload the page and try again."
        },
    )

    def __init__(self, data: dict[str, Any]) -> None:
        # JSON booleans and numbers arrive typed; the form fields want strings or bools.
        prepared = {
            k: (v if isinstance(v, bool | str) or v is None else _jsonish(k, v))
            for k, v in data.items()
        }
        super().__init__(prepared)

    def clean_attestations(self) -> frozenset[int]:
        value = self.cleaned_data.get("attestations") or []
        if not isinstance(value, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in value
        ):
            raise forms.ValidationError("Please tick each statement to confirm it.")
        return frozenset(value)

    def clean_designation(self) -> DesignationChoice:
        value = self.cleaned_data.get("designation") or {}
        problem = forms.ValidationError(
            "The election you chose was not understood. Reload the page and try again."
        )
        if not isinstance(value, dict) or not set(value) <= {"election", "split_to", "consent"}:
            raise problem
        ids = [value.get("election"), value.get("split_to")]
        if any(v is not None and (isinstance(v, bool) or not isinstance(v, int)) for v in ids):
            raise problem
        consent = value.get("consent", "")
        if not isinstance(consent, str) or len(consent) > 1_000:
            raise problem
        if value.get("split_to") is not None and not consent:
            raise forms.ValidationError(
                "Confirm that the rest of your gift goes to the next election."
            )
        return DesignationChoice(election_id=ids[0], split_to=ids[1], consent=consent)

    def clean_amount_minor(self) -> int:
        value = self.data.get("amount_minor")
        if isinstance(value, str) and not value.isdigit():
            raise forms.ValidationError("Enter the amount as a whole number of cents.")
        amount: int = self.cleaned_data["amount_minor"]
        return amount

    def to_request(self) -> DonationRequest:
        d = self.cleaned_data
        return DonationRequest(
            attempt_key=d["attempt_key"],
            gift_minor=d["amount_minor"],
            currency=d["currency"].lower(),
            cover_fees=d["cover_fees"],
            donor=DonorDetails.from_input(d),
            attestation_ids=d["attestations"],
            ticker_opt_in=d["ticker_opt_in"],
            anonymous=d["anonymous"],
            hide_amount=d["hide_amount"],
            display_name=d["display_name"].strip(),
            message=d["message"].strip(),
            refcode=d["refcode"].strip(),
            monthly=d["monthly"],
            save_card=d["save_card"],
            designation=d["designation"],
            express=d["express"],
            us_passport_number=d["us_passport_number"].strip().upper().replace(" ", ""),
            ask_tag=d["ask_tag"].strip(),
        )

    def first_error(self) -> tuple[str, str]:
        """(field, message) of the first problem, for the donor."""
        for name, errors in self.errors.items():
            return name, str(errors[0])
        return "", "Please check the form."


class OneTapForm(StartDonationForm):
    """A returning donor's one-tap gift (donations.one_tap): the amount and this gift's
    choices. Who gives, their details and their card come from the saved card the browser's
    cookie names, never from the request: those fields are not read."""

    NOT_READ = (
        "currency",
        *DONOR_FIELDS,
        "ticker_opt_in",
        "anonymous",
        "hide_amount",
        "display_name",
        "message",
        "save_card",
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        for name in self.NOT_READ:
            del self.fields[name]

    def to_one_tap(self) -> OneTap:
        d = self.cleaned_data
        return OneTap(
            attempt_key=d["attempt_key"],
            gift_minor=d["amount_minor"],
            cover_fees=d["cover_fees"],
            monthly=d["monthly"],
            attestation_ids=d["attestations"],
            refcode=d["refcode"].strip(),
            ask_tag=d["ask_tag"].strip(),
        )


def _jsonish(name: str, value: Any) -> Any:
    if name in ("attestations", "designation"):
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, float) and name == "amount_minor":
        return "x"  # fractions of a cent are refused, not rounded
    return str(value)


class InfoAnswerForm(forms.Form):
    """The best-efforts follow-up form (donations.compliance.besteffort): what an itemized
    gift needs and the donor did not give."""

    employer = forms.CharField(
        max_length=200,
        error_messages={"required": "Your employer is required (enter “None” if you have none)."},
    )
    occupation = forms.CharField(
        max_length=200, error_messages={"required": "Your occupation is required."}
    )
    address_line1 = forms.CharField(
        label="Street address",
        max_length=200,
        error_messages={"required": "Your street address is required."},
    )
    address_line2 = forms.CharField(label="Apartment, suite", max_length=200, required=False)
    city = forms.CharField(max_length=100, error_messages={"required": "Your city is required."})
    region = forms.CharField(label="State", max_length=100, required=False)
    postal_code = forms.CharField(
        label="ZIP or postal code",
        max_length=20,
        error_messages={"required": "Your ZIP or postal code is required."},
    )
    country = forms.CharField(
        label="Country (two letters)",
        max_length=2,
        min_length=2,
        initial="US",
        error_messages={
            "required": "Your country is required.",
            "min_length": "Enter the country as two letters, for example US.",
        },
    )

    def clean_country(self) -> str:
        value: str = self.cleaned_data["country"].strip().upper()
        if not value.isascii() or not value.isalpha():
            raise forms.ValidationError("Enter the country as two letters, for example US.")
        return value

    def to_answer(self) -> InfoAnswer:
        d = self.cleaned_data
        return InfoAnswer(**{name: d[name].strip() for name in ANSWER_FIELDS})
