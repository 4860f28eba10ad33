"""Model fields that store integer minor units and let staff type whole currency amounts."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from events.money import MINOR_PER_MAJOR, format_major

# Typed amounts: ASCII digits (no "²", no other scripts' digits), at most two decimals.
_AMOUNT = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)", re.ASCII)
# The largest amount staff may type: a billion in major units (and the longest text we parse).
MAX_MAJOR = 1_000_000_000
MAX_TEXT = 32


class MajorUnitsFormField(forms.CharField):
    """Shows minor units as a currency amount ('50,000.00' style input), cleans to minor units."""

    default_error_messages = {
        "invalid": "Enter an amount such as 25 or 25.50.",
        "precision": "Use at most two decimal places.",
        "too_large": f"Enter an amount of at most {MAX_MAJOR:,}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("max_length", None)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int):
            return format_major(value)
        return value

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        cleaned = str(text).replace(",", "").replace("$", "").strip()
        if len(cleaned) > MAX_TEXT or not _AMOUNT.fullmatch(cleaned):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if amount > MAX_MAJOR:
            raise ValidationError(self.error_messages["too_large"], code="too_large")
        minor = amount * MINOR_PER_MAJOR
        if minor != minor.to_integral_value():
            raise ValidationError(self.error_messages["precision"], code="precision")
        return int(minor)


class MoneyField(models.PositiveBigIntegerField):  # type: ignore[type-arg]
    """Integer minor units in the database; a currency amount in forms."""

    def formfield(self, **kwargs: Any) -> forms.Field | None:
        defaults: dict[str, Any] = {"form_class": MajorUnitsFormField}
        defaults.update(kwargs)
        defaults["form_class"] = MajorUnitsFormField
        defaults.pop("min_value", None)
        defaults.pop("max_value", None)
        defaults.pop("step_size", None)
        return models.Field.formfield(self, **defaults)


_WHOLE = re.compile(r"[0-9]{1,10}", re.ASCII)
MAX_SUGGESTED = 8


class SuggestedAmountsFormField(forms.CharField):
    """'25, 50, 100' (whole currency units) ↔ [2500, 5000, 10000] (minor units)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.setdefault(
            "help_text", "Whole amounts in the campaign's currency, separated by commas: 25, 50"
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(
                format_major(v) if isinstance(v, int) and not isinstance(v, bool) else str(v)
                for v in value
            )
        return value

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        text = super().to_python(value) or ""
        amounts: list[int] = []
        for raw in (part.strip() for part in text.split(",")):
            if not raw:
                continue
            cleaned = raw.replace("$", "").strip()
            shown = raw if len(raw) <= 20 else raw[:20] + "…"
            if not _WHOLE.fullmatch(cleaned) or int(cleaned) <= 0:
                raise ValidationError(
                    f"Suggested amounts must be positive whole numbers: {shown!r} is not.",
                    code="invalid",
                )
            if int(cleaned) > MAX_MAJOR:
                raise ValidationError(
                    f"Suggested amounts must be at most {MAX_MAJOR:,}: {shown!r} is not.",
                    code="too_large",
                )
            amounts.append(int(cleaned) * MINOR_PER_MAJOR)
        if len(amounts) > MAX_SUGGESTED:
            raise ValidationError(
                f"Offer at most {MAX_SUGGESTED} suggested amounts.", code="too_many"
            )
        return amounts

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != (initial or [])
        except ValidationError:
            return True


class SuggestedAmountsField(models.JSONField):
    def formfield(self, **kwargs: Any) -> forms.Field | None:
        kwargs["form_class"] = SuggestedAmountsFormField
        return models.Field.formfield(self, **kwargs)
