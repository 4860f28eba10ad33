"""The records of the money rules (donations/compliance/), apart from the ledger's own tables:
donations.models imports them so that Django finds them. They name the ledger's models by
their "donations.<Model>" strings and import nothing of donations."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class MonthlyGiftStop(models.Model):
    """A monthly gift stopped because its next month would take the donor past the limit per
    election: the outbox of the provider's cancellation and the two emails (the donor's, the
    campaign owners'). Each step is claimed once; `due_at` is cleared when all are done."""

    monthly_gift = models.OneToOneField(
        "donations.MonthlyGift", on_delete=models.PROTECT, related_name="limit_stop"
    )
    # The installment whose payment showed it, and the election the next month was for.
    installment = models.ForeignKey(
        "donations.Donation", on_delete=models.PROTECT, related_name="+"
    )
    election = models.ForeignKey("events.Election", on_delete=models.PROTECT, related_name="+")
    limit_minor = models.PositiveBigIntegerField()
    room_minor = models.BigIntegerField(help_text="Left for the next month's election.")
    # What the installment just paid took past the limit of its own election (0: nothing):
    # the treasurer refunds or redesignates it.
    excess_minor = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    donor_told_at = models.DateTimeField(null=True, blank=True)
    staff_told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(due_at__isnull=False), name="monthly_stop_due"
            ),
        ]

    def __str__(self) -> str:
        return f"Monthly gift {self.monthly_gift_id} stopped at the limit"
