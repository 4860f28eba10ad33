"""The self-service pages' forms: asking for a link, and a monthly gift's new amount."""

from __future__ import annotations

import re

from django import forms

from events.fields import MajorUnitsFormField

SLUG = re.compile(r"[-a-zA-Z0-9_]{1,80}")


class AskLinkForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        error_messages={
            "required": "Enter the email address you gave with.",
            "invalid": "Enter a valid email address, like name@example.com.",
            "max_length": "An email address has at most 254 characters.",
        },
    )
    # The campaign whose receipt the donor came from (the pages' and the email's brand);
    # anything but a slug is ignored.
    campaign = forms.CharField(required=False, strip=True)

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()

    def clean_campaign(self) -> str:
        return campaign_slug(str(self.cleaned_data.get("campaign") or ""))


def campaign_slug(text: str) -> str:
    """`text` if it can be a campaign's slug, else ""."""
    return text if SLUG.fullmatch(text) else ""


class AmountForm(forms.Form):
    amount = MajorUnitsFormField(
        error_messages={"required": "Enter the new monthly amount, such as 25 or 25.50."}
    )
