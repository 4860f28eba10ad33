"""The goal's extras, apart from the ledger's own tables: milestones on the way to the goal and
sponsors' match offers. donations.models imports them so that Django finds them. Neither is a
donation: a milestone records when the tally first reached it, and what a match adds is
computed from the ledger (donations/matching.py), never stored."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from events.fields import MoneyField


class Milestone(models.Model):
    """A point on the way to the event's goal: an amount, or a percent of the goal (read
    against the goal of the day). `crossed_at` is set once, by the first tally change that
    reaches it (donations/milestones.py), and never cleared: a refund that dips below and a
    later gift that climbs back celebrate nothing again."""

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="milestones")
    amount_minor = MoneyField(
        "amount", null=True, blank=True, help_text="Raised, in the campaign's currency."
    )
    percent = models.PositiveSmallIntegerField(
        "or percent of the goal", null=True, blank=True, help_text="From 1 to 100."
    )
    crossed_at = models.DateTimeField("celebrated at", null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(amount_minor__isnull=False, percent__isnull=True, amount_minor__gt=0))
                | (Q(amount_minor__isnull=True, percent__gte=1, percent__lte=100)),
                name="milestone_amount_or_percent",
            ),
            models.UniqueConstraint(
                fields=["event", "amount_minor"], name="milestone_unique_amount"
            ),
            models.UniqueConstraint(fields=["event", "percent"], name="milestone_unique_percent"),
        ]
        indexes = [
            # The crossing check after every tally rise reads only the event's open milestones.
            models.Index(
                fields=["event"], condition=Q(crossed_at__isnull=True), name="milestone_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.percent}% of the goal" if self.percent else f"{self.amount_minor}"


class MatchRatio(models.IntegerChoices):
    ONE_TO_ONE = 1, "1:1 (every gift doubled)"
    TWO_TO_ONE = 2, "2:1 (every gift tripled)"


class MatchOffer(models.Model):
    """A sponsor's promise: `ratio` times every counted gift (net of refunds) paid in
    [starts_at, ends_at), up to `cap_minor` in all. One offer at a time per event (the
    services refuse overlapping windows)."""

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="match_offers")
    sponsor = models.CharField(max_length=100, help_text="As the banner names them.")
    ratio = models.PositiveSmallIntegerField(choices=MatchRatio.choices, default=1)
    cap_minor = MoneyField(
        "cap", help_text="The most the sponsor gives, in the campaign's currency."
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="Gifts paid until this time are matched.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ratio__in=[1, 2]), name="match_ratio_1_or_2"),
            models.CheckConstraint(condition=Q(cap_minor__gt=0), name="match_cap_positive"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="match_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sponsor} ({self.ratio}:1)"
