"""A campaign's elections (primary, general, runoff, special), each on a date and in an election
cycle, and which election a gift is for: the FEC presumes the next election on the gift's date
(the election day itself included) unless the donor designates another in writing.

A cycle is named by its last year, the even year of the general election: cycle 2026 is
2025-2026. Gift dates are read in US Eastern time (`GIFT_DATE_ZONE`): a gift on the evening of
a primary is still for that primary.

Imports nothing of ours: events.models registers the model by importing it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

GIFT_DATE_ZONE = ZoneInfo("America/New_York")


class ElectionKind(models.TextChoices):
    PRIMARY = "primary", "Primary"
    GENERAL = "general", "General"
    RUNOFF = "runoff", "Runoff"
    SPECIAL = "special", "Special"


def cycle_of(day: date) -> int:
    """The cycle a date falls in: its year if even, else the next year."""
    return day.year + (day.year % 2)


class Election(models.Model):
    """One election a campaign takes gifts for. Donations designate it (PROTECT: an election
    with gifts designated to it cannot be removed)."""

    campaign = models.ForeignKey(
        "events.Campaign", on_delete=models.CASCADE, related_name="elections"
    )
    kind = models.CharField(max_length=10, choices=ElectionKind.choices)
    date = models.DateField(help_text="Election day.")
    cycle = models.PositiveSmallIntegerField(
        blank=True,
        help_text="The cycle's last (even) year: 2026 for 2025-2026. Empty: from the date.",
    )

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "kind", "date"], name="one_election_per_kind_and_date"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "date"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.cycle is None:
            self.cycle = cycle_of(self.date)
        super().save(*args, **kwargs)

    @property
    def name(self) -> str:
        """'2026 primary', '2026 general'; a runoff or special election carries its day."""
        label = self.get_kind_display().lower()
        if self.kind in (ElectionKind.PRIMARY, ElectionKind.GENERAL):
            return f"{self.date.year} {label}"
        return f"{self.date.year} {label} ({self.date:%B} {self.date.day})"

    @property
    def cycle_label(self) -> str:
        return f"{self.cycle - 1}-{self.cycle}"

    def clean(self) -> None:
        if self.date is None:
            return
        if self.cycle is None:
            self.cycle = cycle_of(self.date)
        elif self.cycle % 2 or self.date.year not in (self.cycle - 1, self.cycle):
            raise ValidationError(
                {
                    "cycle": f"An election on {self.date:%B} {self.date.day}, {self.date.year} "
                    f"is in the {cycle_of(self.date) - 1}-{cycle_of(self.date)} cycle: "
                    f"enter {cycle_of(self.date)}."
                }
            )


def gift_date(moment: datetime | None = None) -> date:
    """The date of a gift made at `moment` (now), as elections count days."""
    return timezone.localtime(moment or timezone.now(), GIFT_DATE_ZONE).date()


def next_election(*, campaign_id: int, on: date) -> Election | None:
    """The campaign's first election on or after `on` (None: none ahead, or no elections)."""
    return Election.objects.filter(campaign_id=campaign_id, date__gte=on).first()


def later_in_cycle(election: Election) -> Election | None:
    """The first election after `election` in the same cycle, of the same campaign."""
    return (
        Election.objects.filter(
            campaign_id=election.campaign_id, cycle=election.cycle, date__gt=election.date
        )
        .exclude(pk=election.pk)
        .first()
    )


def elections_ahead(*, campaign_id: int, on: date) -> list[Election]:
    """The campaign's elections on or after `on`, soonest first (what a donor may choose)."""
    return list(Election.objects.filter(campaign_id=campaign_id, date__gte=on))
