"""The records of the money rules (donations/compliance/), apart from the ledger's own tables:
donations.models imports them so that Django finds them. They name the ledger's models by
their "donations.<Model>" strings and import nothing of donations."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q


class MonthlyGiftStop(models.Model):
    """A monthly gift stopped because its next month would take the donor past the limit per
    election (`election` set) or per calendar year (`year` set): the outbox of the provider's
    cancellation and the two emails (the donor's, the campaign owners' and treasurers'). Each
    step is claimed once; `due_at` is cleared when all are done."""

    monthly_gift = models.OneToOneField(
        "donations.MonthlyGift", on_delete=models.PROTECT, related_name="limit_stop"
    )
    # The installment whose payment showed it, and the election the next month was for (or,
    # for the limit per calendar year, the next month's year).
    installment = models.ForeignKey(
        "donations.Donation", on_delete=models.PROTECT, related_name="+"
    )
    election = models.ForeignKey(
        "events.Election", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    limit_minor = models.PositiveBigIntegerField()
    room_minor = models.BigIntegerField(help_text="Left for the next month's election or year.")
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
        constraints = [
            models.CheckConstraint(
                condition=Q(election__isnull=False) ^ Q(year__isnull=False),
                name="monthly_stop_election_or_year",
            ),
        ]

    def __str__(self) -> str:
        return f"Monthly gift {self.monthly_gift_id} stopped at the limit"

    @property
    def limit_words(self) -> str:
        """What the limit is of: "the General 2026" or "2027"."""
        if self.election is not None:
            return f"the {self.election.name}"
        return str(self.year)


class InfoRequest(models.Model):
    """The best-efforts follow-up of a donor whose gifts became itemizable without their
    employer, occupation or address (the wallet path, a month of a monthly gift): one email
    with a signed link to a form, sent within 30 days of the first gift's receipt, and the
    answer, recorded on every gift attached to it (`gifts`). One open request per donor and
    campaign: a later gift of the same donor joins it and gets no second email."""

    campaign = models.ForeignKey("events.Campaign", on_delete=models.PROTECT, related_name="+")
    donor_key = models.CharField(max_length=32, blank=True)
    email = models.EmailField()
    gifts = models.ManyToManyField("donations.Donation", related_name="info_requests")
    created_at = models.DateTimeField(auto_now_add=True)
    # The receipt of the first gift it asks about: the follow-up goes out within 30 days of it.
    received_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)  # the outbox: set until sent
    sent_at = models.DateTimeField(null=True, blank=True)
    # Not sent: the 30 days passed first (an outage); the treasurer's to follow up.
    expired_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    employer = models.CharField(max_length=200, blank=True)
    occupation = models.CharField(max_length=200, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state or region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(due_at__isnull=False), name="info_request_due"
            ),
            models.Index(fields=["campaign", "email"], name="info_request_email"),
            models.Index(fields=["campaign", "donor_key"], name="info_request_donor_key"),
        ]

    def __str__(self) -> str:
        return f"Information request {self.pk}"


class ItemKind(models.TextChoices):
    EXCESSIVE = "excessive", "Excessive contribution"
    MISSING_INFO = "missing_info", "Missing information"
    QUESTIONABLE = "questionable", "Questionable contribution"
    LARGE = "large", "Large gift"
    REFUND = "refund", "Refund"
    DISPUTE = "dispute", "Dispute"


class ComplianceItem(models.Model):
    """One entry of the treasurer's queue: one per cause (`kind` and the gift, or the
    information request), created by the queue's sweep; `due_at` is the legal clock (none for
    review-only kinds). `resolved_at` is set by an action that closes it."""

    campaign = models.ForeignKey("events.Campaign", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=ItemKind.choices)
    donation = models.ForeignKey(
        "donations.Donation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    info_request = models.ForeignKey(
        InfoRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # An excessive contribution: the election whose limit it passed.
    election = models.ForeignKey(
        "events.Election", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amount_minor = models.BigIntegerField(default=0, help_text="The excess, gift or refund.")
    detail = models.CharField(max_length=300, blank=True)
    opened_at = models.DateTimeField(help_text="When the clock started (the gift's receipt).")
    due_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The outbox of the donor's redesignation notice: set until sent.
    notice_due_at = models.DateTimeField(null=True, blank=True)
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["resolved_at", "due_at", "-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "donation"],
                condition=Q(donation__isnull=False),
                name="compliance_item_one_per_gift",
            ),
            models.UniqueConstraint(
                fields=["kind", "info_request"],
                condition=Q(info_request__isnull=False),
                name="compliance_item_one_per_request",
            ),
        ]
        indexes = [
            models.Index(
                fields=["campaign", "due_at"],
                condition=Q(resolved_at__isnull=True),
                name="compliance_item_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"


class ComplianceAction(models.Model):
    """The audit trail of the queue: who did what when. Append-only: never updated or
    deleted (the admin shows it read-only; `save` refuses an update)."""

    item = models.ForeignKey(ComplianceItem, on_delete=models.PROTECT, related_name="actions")
    user = models.ForeignKey(
        "auth.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    what = models.CharField(max_length=200)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.what} on item {self.item_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("The audit trail is append-only.")
        super().save(*args, **kwargs)


class TreasurerDigest(models.Model):
    """The outbox of the daily overdue mail: one row per campaign and day (unique), sent once;
    a failed send leaves `sent_at` empty and the next beat run retries it."""

    campaign = models.ForeignKey("events.Campaign", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    items = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "day"], name="treasurer_digest_daily")
        ]

    def __str__(self) -> str:
        return f"Treasurer digest {self.campaign_id} {self.day}"
