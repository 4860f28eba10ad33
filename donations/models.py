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
from django.utils import timezone

from donations.amounts import Amounts
from donations.compliance_models import ComplianceAction as ComplianceAction
from donations.compliance_models import ComplianceItem as ComplianceItem
from donations.compliance_models import InfoRequest as InfoRequest
from donations.compliance_models import ItemKind as ItemKind
from donations.compliance_models import MonthlyGiftStop as MonthlyGiftStop
from donations.compliance_models import TreasurerDigest as TreasurerDigest
from donations.donors import DonorDetails
from donations.goal_models import MatchOffer as MatchOffer
from donations.goal_models import MatchRatio as MatchRatio
from donations.goal_models import Milestone as Milestone
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
    # The tag of the staff's ask the gift answered (donations/asks.py), beside the refcode.
    ask_tag = models.CharField(max_length=40, blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["campaign", "email"]),
            # A donor's gifts across campaigns, newest first (the self-service page).
            models.Index(fields=["email", "-created_at"], name="donation_by_donor"),
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
    # Collection paused (Stripe's pause_collection, invoices voided): the gift still runs.
    paused = models.BooleanField(default=False)
    # The order of the provider's news about pause and amount (donations.monthly_state): our
    # own changes count up `state_version` (sent as the subscription's metadata), and among
    # the events of one version the newest (`state_at`, Stripe's event time) wins.
    state_version = models.PositiveIntegerField(default=0, editable=False)
    state_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer_id"])]

    def __str__(self) -> str:
        return f"Monthly gift {self.pk}"


class GiftChangeSource(models.TextChoices):
    DONOR = "donor", "The donor (self-service page)"
    PROVIDER = "provider", "The payment provider (its dashboard or its own rules)"


class MonthlyGiftChange(models.Model):
    """A change to a monthly gift's amount, pause or life, for staff to see (the admin)."""

    monthly_gift = models.ForeignKey(MonthlyGift, on_delete=models.CASCADE, related_name="changes")
    source = models.CharField(max_length=10, choices=GiftChangeSource.choices)
    what = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.what


class ManageLink(models.Model):
    """A self-service link emailed to a donor (donations.selfservice.links): single use, bound
    to one email address, expiring. Only the token's hash is stored; the token is derived from
    `salt` and the SECRET_KEY when the email is sent, so the rows alone cannot open a link. The
    row is the email's outbox (`email_sent_at` IS NULL)."""

    email = models.EmailField()
    # The campaign whose brand the email and pages carry (the receipt the donor came from).
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    salt = models.CharField(max_length=64, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(email_sent_at__isnull=True),
                name="manage_link_email_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Manage link {self.pk}"


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


# --- Returning donors: saved cards and the emailed codes that unlock them on another device ---


def new_device_token() -> str:
    """The random token a saved donor's signed cookie names (never the row's id)."""
    return secrets.token_urlsafe(24)


class SavedDonor(models.Model):
    """A donor's card kept at the provider (a Customer and its PaymentMethod) with the details
    they gave, for one-tap gifts later (donations.saved_donors). Created pending when a gift
    that asked to save the card starts; usable once the provider's success event for that gift
    named the payment method (`saved_at`). A browser proves it may use it with a signed cookie
    naming `token`, set by that gift's start or by a right emailed code."""

    token = models.CharField(max_length=64, unique=True, default=new_device_token, editable=False)
    # The gift that saved the card: one saved card per gift (a retried start finds it again).
    donation = models.OneToOneField(Donation, on_delete=models.PROTECT, related_name="saved_card")
    provider = models.CharField(max_length=20)
    email = models.EmailField()
    # The donor's details as DonorDetails' fields (donations.donors).
    details = models.JSONField(default=dict)
    customer_id = models.CharField(max_length=255, blank=True, default="")
    payment_method_id = models.CharField(max_length=255, blank=True, default="")
    # Read from the provider once the payment method is known ("" until then); "link" for Link.
    card_brand = models.CharField(max_length=30, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    saved_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # An emailed code unlocks the newest usable card of the address.
            models.Index(
                fields=["email", "-saved_at"],
                condition=Q(saved_at__isnull=False, revoked_at__isnull=True),
                name="saved_donor_usable",
            ),
            # A newly saved card revokes the older ones of its customer.
            models.Index(fields=["customer_id"], name="saved_donor_customer"),
        ]

    def __str__(self) -> str:
        return f"Saved donor {self.pk}"

    @property
    def donor(self) -> DonorDetails:
        return DonorDetails.from_saved(self.details, email=self.email)


class DonorCode(models.Model):
    """The emailed one-time code of one address (one row per address; asking again replaces
    the code). The row is the outbox: `requested_at` without `sent_at` is due. The sender makes
    the code, stores only its keyed hash and emails it (donations.donor_code_mail)."""

    email = models.EmailField(unique=True)
    requested_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    code_hash = models.CharField(max_length=64, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["requested_at"],
                condition=Q(sent_at__isnull=True),
                name="donor_code_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Donor code {self.pk}"
