"""The donation ledger: donations, the provider events applied to them, the issues staff must
look at, and the tally shards. Four tables of our own (no dj-stripe).

A donation's money state is built only from facts that never go back (a success was seen, the
highest refunded amount seen, the latest dispute state), so applying the same provider events
in any order, any number of times, gives the same row: see `Donation.recompute_state`.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT

from donations.amounts import Amounts
from donations.compliance_models import InfoRequest as InfoRequest
from donations.compliance_models import MonthlyGiftStop as MonthlyGiftStop
from donations.donors import DonorDetails
from events.models import CURRENCY_CHOICES, Campaign, Event


class DonationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    DISPUTED = "disputed", "Disputed"
    FAILED = "failed", "Failed"


class DisputeState(models.TextChoices):
    NONE = "", "None"
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


# Later dispute states win whatever order the events came in.
DISPUTE_RANK = {
    DisputeState.NONE: 0,
    DisputeState.OPEN: 1,
    DisputeState.WON: 2,
    DisputeState.LOST: 2,
}


class Interval(models.TextChoices):
    ONCE = "", "One-off"
    MONTH = "month", "Monthly"


# Receipt references: "PC-" and 10 random base32 characters (50 bits), so that one
# donation's reference says nothing about another's (never the sequential id).
REFERENCE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
REFERENCE_PREFIX = "PC-"


def new_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))


class Donation(models.Model):
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="donations")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="donations")
    # The browser's id for one donation attempt: a double click or a retried request finds the
    # same row (unique), and the provider call reuses the same idempotency key.
    attempt_key = models.UUIDField(unique=True, editable=False)
    provider = models.CharField(max_length=20, editable=False)
    payment_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    charge_id = models.CharField(max_length=255, blank=True, default="")
    # What the donor sees (thank-you, receipt): random, set at creation, unique.
    reference = models.CharField(max_length=20, unique=True, default=new_reference, editable=False)

    gift_minor = models.PositiveBigIntegerField(help_text="What the donor chose to give.")
    fee_minor = models.PositiveBigIntegerField(default=0, help_text="Fees the donor covered.")
    amount_minor = models.PositiveBigIntegerField(help_text="Charged: gift plus covered fees.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    # A monthly gift's installments: each paid invoice is one row (the first one is the
    # donation the donor started), found again by its invoice id.
    interval = models.CharField(max_length=5, choices=Interval.choices, blank=True, default="")
    monthly_gift = models.ForeignKey(
        "MonthlyGift",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="installments",
    )
    invoice_id = models.CharField(max_length=255, unique=True, null=True, blank=True)

    # The election(s) the gift is for (donations/compliance/designation.py); none when the
    # campaign has no elections. A gift split with the donor's consent gives `election_minor`
    # to `election` and the rest, `split_minor`, to the later `split_election`: one charge, two
    # designations that add up to the charged amount exactly (a check constraint).
    election = models.ForeignKey(
        "events.Election", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    election_minor = models.PositiveBigIntegerField(default=0)
    split_election = models.ForeignKey(
        "events.Election", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    split_minor = models.PositiveBigIntegerField(default=0)

    # Monotone facts from the provider (see the module docstring).
    succeeded_seen = models.BooleanField(default=False)
    failed_seen = models.BooleanField(default=False)
    refunded_minor = models.PositiveBigIntegerField(default=0)
    dispute_id = models.CharField(max_length=255, blank=True, default="")
    dispute_state = models.CharField(
        max_length=4, choices=DisputeState.choices, blank=True, default=""
    )
    disputed_minor = models.PositiveBigIntegerField(default=0)
    # Derived from the facts above by recompute_state(); stored for filters and the tally.
    status = models.CharField(
        max_length=20, choices=DonationStatus.choices, default=DonationStatus.PENDING
    )
    net_minor = models.BigIntegerField(
        default=0, help_text="What counts toward the tally: charged minus refunds and disputes."
    )

    email = models.EmailField()
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state or region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)
    employer = models.CharField(max_length=200, blank=True)
    occupation = models.CharField(max_length=200, blank=True)
    attestations = models.JSONField(default=list, blank=True, help_text="The texts ticked.")
    # The donor's identity key (normalized name and postal code, donations/compliance/
    # identity.py): with the email, what ties one person's gifts together for limits and
    # aggregates. "" without a name or a postal code.
    donor_key = models.CharField(max_length=32, blank=True, default="", editable=False)
    # A donor with an address outside the US, where the campaign asks for it: their US
    # passport number (donations/compliance/sources.py). Never logged or exported.
    us_passport_number = models.CharField(max_length=9, blank=True, default="", editable=False)
    # The outbox of the best-efforts follow-up (donations/compliance/besteffort.py): the gift
    # became itemizable without the donor's employer, occupation or address; the sweep attaches
    # it to its donor's InfoRequest once it is paid, and clears this.
    info_followup_due = models.BooleanField(default=False, editable=False)

    ticker_opt_in = models.BooleanField("show in the ticker", default=False)
    anonymous = models.BooleanField(default=False)
    hide_amount = models.BooleanField(default=False)
    display_name = models.CharField(max_length=60, blank=True)
    message = models.CharField(max_length=140, blank=True)
    # Staff took the line out of the live ticker (the dashboard's "Hide from ticker").
    ticker_hidden = models.BooleanField(default=False)
    refcode = models.CharField(max_length=100, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["campaign", "email"]),
            models.Index(
                fields=["campaign", "donor_key"],
                condition=~Q(donor_key=""),
                name="donation_campaign_donor_key",
            ),
            models.Index(fields=["event", "status"]),
            models.Index(fields=["campaign", "created_at"]),
            models.Index(fields=["refcode"]),
            models.Index(
                fields=["succeeded_at"],
                condition=Q(receipt_sent_at__isnull=True, net_minor__gt=0),
                name="donation_receipt_due",
            ),
            models.Index(
                fields=["created_at"],
                condition=Q(info_followup_due=True),
                name="donation_info_followup_due",
            ),
            models.Index(
                fields=["event", "-succeeded_at", "-id"],
                condition=Q(ticker_opt_in=True, ticker_hidden=False, net_minor__gt=0),
                name="donation_ticker_shown",
            ),
            # The staff dashboard's recent donations (newest successes of one event).
            models.Index(
                fields=["event", "-succeeded_at", "-id"],
                condition=Q(succeeded_at__isnull=False),
                name="donation_staff_recent",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor=models.F("gift_minor") + models.F("fee_minor")),
                name="donation_amount_is_gift_plus_fee",
            ),
            models.CheckConstraint(
                condition=Q(
                    election__isnull=True,
                    election_minor=0,
                    split_election__isnull=True,
                    split_minor=0,
                )
                | (
                    Q(
                        election__isnull=False,
                        election_minor__gt=0,
                        election_minor=models.F("amount_minor") - models.F("split_minor"),
                    )
                    & (
                        Q(split_election__isnull=True, split_minor=0)
                        | Q(split_election__isnull=False, split_minor__gt=0)
                    )
                ),
                name="donation_designations_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"Donation {self.pk}"

    @property
    def share_refcode(self) -> str:
        """The refcode of this donor's own share link (?refcode=…): gifts made through it
        record it like any refcode."""
        return "share-" + self.reference.removeprefix(REFERENCE_PREFIX).lower()

    @property
    def counted(self) -> bool:
        """Counts as a donation in the tally: succeeded, not fully refunded or disputed."""
        return self.net_minor > 0

    @property
    def donor(self) -> DonorDetails:
        return DonorDetails.of(self)

    @property
    def amounts(self) -> Amounts:
        return Amounts.of(self)

    def recompute_state(self) -> None:
        """Derive status and net_minor from the monotone facts. Pure; order-independent."""
        disputed = (
            self.disputed_minor
            if self.dispute_state in (DisputeState.OPEN, DisputeState.LOST)
            else 0
        )
        if self.succeeded_seen:
            self.net_minor = max(0, self.amount_minor - self.refunded_minor - disputed)
            if disputed:
                self.status = DonationStatus.DISPUTED
            elif self.refunded_minor >= self.amount_minor:
                self.status = DonationStatus.REFUNDED
            elif self.refunded_minor > 0:
                self.status = DonationStatus.PARTIALLY_REFUNDED
            else:
                self.status = DonationStatus.SUCCEEDED
        else:
            self.net_minor = 0
            self.status = DonationStatus.FAILED if self.failed_seen else DonationStatus.PENDING


class MonthlyGiftStatus(models.TextChoices):
    INCOMPLETE = "incomplete", "Waiting for the first payment"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended (cancelled or failed)"


# Later subscription states win whatever order the events came in; ENDED is terminal.
MONTHLY_STATUS_RANK = {
    MonthlyGiftStatus.INCOMPLETE: 0,
    MonthlyGiftStatus.ACTIVE: 1,
    MonthlyGiftStatus.ENDED: 2,
}


class MonthlyGift(models.Model):
    """A donor's monthly gift: a Stripe Subscription (or a simulated one). Each paid invoice is
    a Donation row of its own; this row holds what they share and whether it still runs."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="monthly_gifts")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="monthly_gifts")
    first_donation = models.OneToOneField(
        Donation, on_delete=models.PROTECT, related_name="started_monthly_gift"
    )
    provider = models.CharField(max_length=20, editable=False)
    subscription_id = models.CharField(max_length=255, unique=True)
    customer_id = models.CharField(max_length=255, blank=True, default="")
    interval = models.CharField(max_length=5, choices=Interval.choices, default=Interval.MONTH)
    amount_minor = models.PositiveBigIntegerField(help_text="Charged each month.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(
        max_length=10, choices=MonthlyGiftStatus.choices, default=MonthlyGiftStatus.INCOMPLETE
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer_id"])]

    def __str__(self) -> str:
        return f"Monthly gift {self.pk}"


class ProviderProduct(models.Model):
    """The provider's product a campaign's monthly gifts are priced on: created once per
    campaign and provider, then reused (unique)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=20)
    product_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "provider"], name="one_product_per_campaign"
            )
        ]

    def __str__(self) -> str:
        return self.product_id


class ProviderEvent(models.Model):
    """A provider event (a Stripe webhook, a reconciliation finding or a simulated payment),
    stored by its id before it has any effect: a second delivery is a no-op."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    source = models.CharField(max_length=20, default="webhook")
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    donation = models.ForeignKey(
        Donation, on_delete=models.SET_NULL, null=True, blank=True, related_name="provider_events"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(applied_at__isnull=True),
                name="provider_event_unapplied",
            ),
            # Which payment paid an invoice, when that news came before the invoice's own
            # (the path is providers.stripe_events.STORED_INVOICE_PAYMENT_INVOICE).
            models.Index(
                KT("payload__data__object__invoice"),
                condition=Q(type="invoice_payment.paid"),
                name="provider_event_invoice_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class IssueKind(models.TextChoices):
    UNKNOWN_DONATION = "unknown_donation", "Unknown donation"
    AMOUNT_MISMATCH = "amount_mismatch", "Amount disagrees with our record"
    CURRENCY_MISMATCH = "currency_mismatch", "Currency disagrees with our record"


class LedgerIssue(models.Model):
    """Something a provider told us that we did not count, for staff to look at."""

    kind = models.CharField(max_length=30, choices=IssueKind.choices)
    provider_event = models.ForeignKey(ProviderEvent, on_delete=models.CASCADE)
    donation = models.ForeignKey(Donation, on_delete=models.SET_NULL, null=True, blank=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, blank=True)
    detail = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_event", "kind"], name="one_issue_per_event_and_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.provider_event.event_id})"


TALLY_SHARDS = 16


class TallyShard(models.Model):
    """One of TALLY_SHARDS counters per scope (`e:<event id>` or `c:<campaign id>`): a donation
    changes the shard its id picks, so concurrent donations rarely wait on the same row. A scope's
    tally is the sum of its shards; `recompute_tallies` rebuilds them from the ledger."""

    scope = models.CharField(max_length=24)
    shard = models.PositiveSmallIntegerField()
    raised_minor = models.BigIntegerField(default=0)
    donors = models.IntegerField(default=0)
    donations = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "shard"], name="one_tally_shard"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}#{self.shard}"


def event_scope(event_id: int) -> str:
    return f"e:{event_id}"


def campaign_scope(campaign_id: int) -> str:
    return f"c:{campaign_id}"
