"""Campaigns, their staff, capacity tiers and events with their lifecycle.

This is the base layer: it imports neither `donations` nor `streaming`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.urls import reverse

from events import brand, kinds
from events.elections import Election as Election  # the model of a campaign's elections
from events.fields import MoneyField, SuggestedAmountsField

# Currencies we accept: all have two decimal places, as Stripe counts them in minor units.
CURRENCY_CHOICES = [
    ("usd", "US dollar (USD)"),
    ("cad", "Canadian dollar (CAD)"),
    ("eur", "Euro (EUR)"),
    ("gbp", "Pound sterling (GBP)"),
    ("aud", "Australian dollar (AUD)"),
]

DEFAULT_MIN_DONATION_MINOR = 500


def _logo_in_use(name: str) -> bool:
    return Campaign.objects.filter(logo=name).exists()


def _discard_logo(name: str) -> None:
    storage = Campaign._meta.get_field("logo").storage
    brand.discard_logo_on_commit(storage=storage, name=name, in_use=_logo_in_use)


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        """Deletes the campaigns, and their logos' files once that commits."""
        with transaction.atomic():
            logos = [name for name in self.values_list("logo", flat=True) if name]
            deleted = super().delete()
            for name in logos:
                _discard_logo(name)
        return deleted


class Campaign(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    legal_name = models.CharField(
        max_length=300, help_text="The committee's legal name, printed on receipts."
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="usd")
    min_donation_minor = MoneyField(
        "minimum donation",
        default=DEFAULT_MIN_DONATION_MINOR,
        validators=[MinValueValidator(50, "The minimum donation must be at least 0.50.")],
        help_text="Stripe's own minimum is 0.50.",
    )
    max_donation_minor = MoneyField(
        "maximum single donation",
        null=True,
        blank=True,
        help_text="Empty: no maximum other than the per-donor limit.",
    )
    per_donor_limit_minor = MoneyField(
        "per-donor contribution limit",
        null=True,
        blank=True,
        help_text=(
            "The most one donor (same email) may give to this campaign in total, while it has "
            "no elections (with elections, the limit per election applies instead)."
        ),
    )
    require_name = models.BooleanField(default=True)
    require_email = models.BooleanField(default=True)
    require_address = models.BooleanField("require postal address", default=False)
    require_employer = models.BooleanField(default=False)
    require_occupation = models.BooleanField(default=False)
    monthly_enabled = models.BooleanField("offer monthly giving", default=False)
    # The live ticker (donations.ticker applies them when a line is read).
    ticker_name_min_minor = MoneyField(
        "smallest gift shown with a name in the ticker",
        default=0,
        help_text=(
            "Gifts below this amount (before any fees the donor covers) show in the live "
            "ticker as “Someone”, with their amount but without a name or message. "
            "0: every gift may show its name."
        ),
    )
    ticker_profanity_filter = models.BooleanField(
        "mask profanity in the ticker",
        default=True,
        help_text=(
            "Words on the filter's list are shown as **** in the live ticker's names and "
            "messages. The donor's own text stays in the donation's record for staff."
        ),
    )
    # The brand (events/brand.py checks the logo and the colours).
    logo = models.ImageField(
        upload_to=brand.logo_upload_to,
        blank=True,
        validators=[brand.check_logo],
        width_field="logo_width",
        height_field="logo_height",
        help_text="PNG, JPEG or WebP; at most 1 MB and 2000 by 2000 pixels.",
    )
    # The logo's size in pixels (the ImageField keeps them): pages give the <img> its width and
    # height, so the browser keeps the logo's box from the first paint and nothing moves.
    logo_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    logo_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    brand_color = models.CharField(
        "brand colour",
        max_length=7,
        blank=True,
        validators=[brand.check_hex_color],
        help_text=(
            "#rrggbb, for the event page's buttons and bars; at least 3:1 against the white "
            "page. Empty: the page's own blue."
        ),
    )
    brand_text_color = models.CharField(
        "text colour on the brand colour",
        max_length=7,
        blank=True,
        validators=[brand.check_hex_color],
        help_text="#rrggbb; at least 4.5:1 against the brand colour. Empty: white.",
    )
    kind = models.CharField(
        max_length=20,
        choices=kinds.CampaignKind.choices,
        default=kinds.CampaignKind.OTHER,
        help_text=(
            "Sets the defaults of the money rules below (limits per election, itemization, "
            "attestations) and what the receipt says. A federal candidate committee or a PAC "
            "is political; a 501(c)(3) is not and its receipts carry its EIN."
        ),
    )
    ein = models.CharField(
        "EIN",
        max_length=10,
        blank=True,
        help_text="The IRS employer identification number (12-3456789): a 501(c)(3)'s receipts "
        "print it.",
    )
    # --- The money rules of elections (events/elections.py, donations/compliance/).
    election_limit_minor = MoneyField(
        "limit per election",
        null=True,
        blank=True,
        help_text=(
            "The most one donor (the same person, whatever their email) may give for each "
            "election. Empty: the kind's default ($3,500 for a federal candidate committee, "
            "none otherwise). Applies once the campaign has elections."
        ),
    )
    year_limit_minor = MoneyField(
        "limit per calendar year",
        null=True,
        blank=True,
        help_text=(
            "The most one donor (the same person, whatever their email) may give in a "
            "calendar year, whatever the elections. Empty: the kind's default ($5,000 for a "
            "PAC, none otherwise)."
        ),
    )
    fec_committee_id = models.CharField(
        "FEC committee ID",
        max_length=9,
        blank=True,
        validators=[kinds.validate_fec_committee_id],
        help_text="The committee's FEC id (C and 8 digits): the .fec Schedule A export's filer.",
    )
    itemization_threshold_minor = MoneyField(
        "itemization threshold",
        null=True,
        blank=True,
        help_text=(
            "Employer, occupation and postal address are asked of every donor but required "
            "only once a donor's gifts pass this amount in the election cycle (the calendar "
            "year for a campaign without elections). Empty: the kind's default ($200 for a "
            "federal candidate committee or a PAC, no threshold otherwise: the required "
            "details below apply from the first cent)."
        ),
    )
    large_gift_minor = MoneyField(
        "large gift threshold",
        null=True,
        blank=True,
        help_text=(
            "Gifts of this much or more appear in the treasurer's queue for review. Empty: $1,000."
        ),
    )
    foreign_address_policy = models.CharField(
        "gifts from addresses outside the US",
        max_length=10,
        choices=kinds.ForeignAddress.choices,
        blank=True,
        default=kinds.ForeignAddress.DEFAULT,
        help_text=(
            "US law bars political gifts from foreign nationals. The kind's default: a "
            "political committee takes them only with the donor's US passport number; others "
            "accept them."
        ),
    )
    donor_chooses_election = models.BooleanField(
        "donors may choose the election",
        default=False,
        help_text=(
            "Donors may designate their gift to any election still ahead. Otherwise a gift "
            "is for the next election on its date, as the FEC presumes."
        ),
    )
    political = models.BooleanField(
        "political committee",
        default=True,
        help_text=(
            "A US political committee must print a “Paid for by” disclaimer on its public "
            "pages and emails. Set by the kind, except for “Other”."
        ),
    )
    paid_for_by = models.CharField(
        "“Paid for by” disclaimer",
        max_length=300,
        blank=True,
        help_text=(
            "For example “Paid for by Alpha for Congress”. Shown at the foot of the event page, "
            "on the thank-you after a gift and at the end of every email."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignQuerySet.as_manager()
    # The logo's name as this instance read it from the database (None: not read).
    _loaded_logo: str | None = None

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saves the campaign; the logo it replaced or cleared is deleted once that commits.

        Holds the campaign's row lock from reading the stored logo to writing the new one, so
        two staff changing the logo at once each discard exactly the file they replaced. A
        save from an instance read before another replaced the logo, which leaves the logo as
        it read it, keeps the newer logo rather than writing back a name whose file is gone.
        The campaign's kind decides whether it is political (only "other" leaves it to staff)."""
        political = kinds.rules_of(self.kind).political
        if political is not None:
            self.political = political
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "logo" not in update_fields:
            super().save(*args, **kwargs)
            return
        if self._state.adding:
            super().save(*args, **kwargs)
            self._loaded_logo = self.logo.name
            return
        with transaction.atomic():
            row = (
                Campaign.objects.select_for_update()
                .filter(pk=self.pk)
                .values("logo", "logo_width", "logo_height")
                .first()
            )
            stored = row["logo"] if row is not None else None
            untouched = self._loaded_logo is not None and self.logo.name == self._loaded_logo
            if row is not None and untouched and stored != self.logo.name:
                self.logo.name = stored
                self.logo_width, self.logo_height = row["logo_width"], row["logo_height"]
            super().save(*args, **kwargs)
            if stored and stored != self.logo.name:
                _discard_logo(stored)
        self._loaded_logo = self.logo.name

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Deletes the campaign, and its logo's file once that commits."""
        logo = self.logo.name or ""
        with transaction.atomic():
            deleted = super().delete(*args, **kwargs)
            _discard_logo(logo)
        return deleted

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Campaign:
        campaign = super().from_db(*args, **kwargs)
        # The logo as read: a save that leaves it alone must not write it back over a newer one.
        campaign._loaded_logo = campaign.__dict__.get("logo")  # None when deferred
        return campaign

    @property
    def brand_style(self) -> str:
        """CSS custom properties for the event page (empty: the page's own colours)."""
        return brand.brand_style(self.brand_color, self.brand_text_color)

    @property
    def logo_url(self) -> str:
        if not self.logo:
            return ""
        return reverse("campaign_logo", args=[(self.logo.name or "").rsplit("/", 1)[-1]])

    @property
    def rules(self) -> kinds.KindRules:
        """The defaults of the campaign's kind (events.kinds)."""
        return kinds.rules_of(self.kind)

    @property
    def itemization_threshold(self) -> int | None:
        """Above this total (minor units) in a cycle or year a donor's details are required
        (None: no itemization rule)."""
        if self.itemization_threshold_minor is not None:
            return int(self.itemization_threshold_minor)
        return self.rules.itemization_threshold_minor

    @property
    def foreign_address(self) -> kinds.ForeignAddress:
        """What the campaign does with a gift from a postal address outside the US."""
        if self.foreign_address_policy:
            return kinds.ForeignAddress(self.foreign_address_policy)
        return self.rules.foreign_address

    @property
    def election_limit(self) -> int | None:
        """The most one donor may give per election (minor units): the campaign's own limit,
        else its kind's; None for no limit."""
        if self.election_limit_minor is not None:
            return int(self.election_limit_minor)
        return self.rules.election_limit_minor

    @property
    def year_limit(self) -> int | None:
        """The most one donor may give per calendar year (minor units): the campaign's own
        limit, else its kind's; None for no limit."""
        if self.year_limit_minor is not None:
            return int(self.year_limit_minor)
        return self.rules.year_limit_minor

    def clean(self) -> None:
        errors: dict[str, str] = {}
        political = self.rules.political
        if political is not None:
            self.political = political
        self.fec_committee_id = self.fec_committee_id.strip().upper()
        if self.ein.strip():
            try:
                self.ein = kinds.normalize_ein(self.ein)
            except ValidationError as exc:
                errors["ein"] = exc.messages[0]
        elif self.kind == kinds.CampaignKind.NONPROFIT:
            errors["ein"] = "A 501(c)(3)'s receipts must carry its EIN: enter it."
        if (
            self.max_donation_minor is not None
            and self.max_donation_minor < self.min_donation_minor
        ):
            errors["max_donation_minor"] = "The maximum donation must be at least the minimum."
        errors.update(brand.check_brand_colors(self.brand_color, self.brand_text_color))
        self.paid_for_by = " ".join(self.paid_for_by.split())
        if self.political and not self.paid_for_by:
            errors["paid_for_by"] = (
                "A political committee must show who paid for its pages and emails: "
                "enter its “Paid for by” line."
            )
        elif self.paid_for_by and not self.paid_for_by.casefold().startswith("paid for by "):
            errors["paid_for_by"] = "The disclaimer must begin with the words “Paid for by”."
        if errors:
            raise ValidationError(errors)

    @property
    def required_donor_fields(self) -> list[str]:
        fields = []
        for name in ("name", "email", "address", "employer", "occupation"):
            if getattr(self, f"require_{name}"):
                fields.append(name)
        return fields


class Attestation(models.Model):
    """A statement a donor must tick before giving, e.g. a citizenship statement."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="attestations")
    text = models.CharField(max_length=500)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    # Acts on the compliance queue (refunds, redesignations, notes) and gets its daily digest;
    # otherwise changes what a manager changes.
    TREASURER = "treasurer", "Treasurer"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A staff user's role on one campaign. Staff see only the campaigns they belong to."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MANAGER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "campaign"], name="one_membership_per_campaign")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) on {self.campaign}"


class CapacityTier(models.Model):
    """How many simultaneous attendees an event may admit, and what the tier costs."""

    name = models.CharField(max_length=50, unique=True)
    max_attendees = models.PositiveIntegerField(unique=True)
    price_minor = MoneyField("price", null=True, blank=True, help_text="Empty until set.")
    price_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="usd")

    class Meta:
        ordering = ["max_attendees"]

    def __str__(self) -> str:
        return f"{self.name} ({self.max_attendees:,} attendees)"


class EventStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    # A stream is arriving and only staff see it (the green room); the public page counts down.
    BACKSTAGE = "backstage", "Backstage"
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"
    CANCELLED = "cancelled", "Cancelled"


# The lifecycle: which status may follow which.
TRANSITIONS: dict[str, set[str]] = {
    EventStatus.DRAFT: {EventStatus.SCHEDULED, EventStatus.CANCELLED},
    EventStatus.SCHEDULED: {EventStatus.BACKSTAGE, EventStatus.LIVE, EventStatus.CANCELLED},
    EventStatus.BACKSTAGE: {EventStatus.LIVE, EventStatus.CANCELLED},
    EventStatus.LIVE: {EventStatus.ENDED},
    # "Resume show" within SHOW_RESUME_MINUTES of the end (streaming/show.py checks the time).
    EventStatus.ENDED: {EventStatus.LIVE},
    EventStatus.CANCELLED: set(),
}

_HINTS = {
    (EventStatus.DRAFT, EventStatus.LIVE): "schedule it first.",
    (EventStatus.DRAFT, EventStatus.ENDED): "it never went live.",
    (EventStatus.SCHEDULED, EventStatus.ENDED): "it never went live; cancel it instead.",
    (EventStatus.LIVE, EventStatus.CANCELLED): "it is live; end it instead.",
    (EventStatus.LIVE, EventStatus.SCHEDULED): "it is already live.",
    (EventStatus.BACKSTAGE, EventStatus.ENDED): "it never went live; cancel it instead.",
    (EventStatus.BACKSTAGE, EventStatus.SCHEDULED): "its stream is already arriving.",
}


class InvalidTransition(ValidationError):
    """An event status change that the lifecycle does not allow."""


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public: listed on the home page"
    UNLISTED = "unlisted", "Unlisted: reachable by its link only"


class Event(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="events")
    title = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=80, unique=True, help_text="The event's address: /events/this-slug/."
    )
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    capacity_tier = models.ForeignKey(CapacityTier, on_delete=models.PROTECT)
    auto_upgrade_tier = models.ForeignKey(
        CapacityTier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="pre-authorised upgrade",
        help_text="Optional: when the audience reaches 95% of the capacity tier, move the event "
        "to this larger tier by itself, once (owners and managers are emailed). Its price "
        "applies.",
    )
    goal_minor = MoneyField(
        "fundraising goal",
        validators=[MinValueValidator(1, "The goal must be a positive amount.")],
        help_text="In the campaign's currency.",
    )
    # Stored in minor units; staff type whole amounts ("25, 50, 100").
    suggested_amounts = SuggestedAmountsField(default=list, blank=True)
    registration_required = models.BooleanField(default=False)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    status = models.CharField(
        max_length=10, choices=EventStatus.choices, default=EventStatus.DRAFT, editable=False
    )
    went_live_at = models.DateTimeField(null=True, blank=True, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    backstage_at = models.DateTimeField(null=True, blank=True, editable=False)
    # --- The show (streaming/show.py): when it goes live and ends by itself, and how long
    # giving stays open after it.
    go_live_automatically = models.BooleanField(
        "go live at the start time",
        default=False,
        help_text="At the start time, go live by itself if a stream is arriving. Otherwise "
        "staff press “Go live” on the dashboard.",
    )
    auto_end_minutes = models.PositiveSmallIntegerField(
        "end the show when the stream is gone for (minutes)",
        default=30,
        validators=[MaxValueValidator(24 * 60)],
        help_text="A live show whose stream has sent nothing for this long ends by itself. "
        "0: only staff end it.",
    )
    giving_window_days = models.PositiveSmallIntegerField(
        "giving stays open after the show for (days)",
        default=30,
        validators=[MaxValueValidator(366)],
        help_text="The replay page keeps the donate panel this long after the show ends.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["status", "visibility", "starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="event_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(goal_minor__gt=0), name="event_goal_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("liveroom:event", kwargs={"slug": self.slug})

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The event must end after it starts."
        try:
            validate_suggested_amounts(self.suggested_amounts)
        except ValidationError as exc:
            errors["suggested_amounts"] = exc.messages[0]
        upgrade, tier = self.auto_upgrade_tier, getattr(self, "capacity_tier", None)
        if upgrade is not None and tier is not None and upgrade.max_attendees <= tier.max_attendees:
            errors["auto_upgrade_tier"] = (
                f"Choose a tier larger than the event's ({tier.max_attendees:,} attendees), or "
                "none."
            )
        if errors:
            raise ValidationError(errors)

    def check_transition(self, to: str) -> None:
        """Raise InvalidTransition, with a message for staff, unless `to` may follow now."""
        current = EventStatus(self.status)
        target = EventStatus(to)
        if target in TRANSITIONS[current]:
            return
        hint = _HINTS.get((current, target))
        if hint is None:
            hint = (
                "it is over."
                if current in (EventStatus.ENDED, EventStatus.CANCELLED)
                else f"it is already {current.label.lower()}."
            )
        raise InvalidTransition(
            f"“{self.title}” cannot become {target.label.lower()} "
            f"while {current.label.lower()}: {hint}",
            code="invalid_transition",
        )

    @property
    def is_publicly_reachable(self) -> bool:
        return self.status != EventStatus.DRAFT

    @property
    def giving_closes_at(self) -> datetime | None:
        """When giving closes: the end of the show plus its giving window (None before the
        show ends)."""
        if self.status != EventStatus.ENDED or self.ended_at is None:
            return None
        return self.ended_at + timedelta(days=self.giving_window_days)

    def giving_open(self, now: datetime) -> bool:
        """Gifts are taken while the event is scheduled, backstage or live, and after the show
        for its giving window; never for a draft or a cancelled event."""
        if self.status in (EventStatus.SCHEDULED, EventStatus.BACKSTAGE, EventStatus.LIVE):
            return True
        closes = self.giving_closes_at
        return closes is not None and now < closes


def validate_suggested_amounts(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("Suggested amounts must be a list of positive whole numbers.")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
            raise ValidationError(
                f"Suggested amounts must be positive whole numbers: {item!r} is not."
            )
    if len(value) > 8:
        raise ValidationError("Offer at most 8 suggested amounts.")


class Registration(models.Model):
    """An attendee who registered for an event that asks for it (one per email per event)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    # Opaque, unguessable: the confirmation email's link and the attendee's cookie carry it.
    token = models.CharField(max_length=43, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The outbox: set with the registration (and when a re-registration asks for a resend),
    # cleared when a sender claims the confirmation. A due row outlives a broker outage.
    confirmation_due_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Emails are stored lower-cased by the service, so this is case-insensitive.
            models.UniqueConstraint(fields=["event", "email"], name="registration_once_per_email"),
        ]
        indexes = [
            # The periodic sender's scan: only the few due rows are in it.
            models.Index(
                fields=["confirmation_due_at"],
                condition=models.Q(confirmation_due_at__isnull=False),
                name="registration_confirm_due",
            ),
        ]

    def __str__(self) -> str:
        return f"registration {self.pk} for event {self.event_id}"


class ViewerSample(models.Model):
    """How many attendees watched an event at a moment: the staff dashboard's viewer chart.
    Written by the event's elected live-room publisher (one writer for the deployment)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="viewer_samples")
    at = models.DateTimeField()
    viewers = models.PositiveIntegerField()

    class Meta:
        ordering = ["at"]
        indexes = [models.Index(fields=["event", "at"])]

    def __str__(self) -> str:
        return f"{self.viewers} viewers of event {self.event_id} at {self.at:%H:%M:%S}"


class CapacityNoticeKind(models.TextChoices):
    AT_80 = "80", "At 80% of the tier"
    AT_95 = "95", "At 95% of the tier"
    UPGRADED = "upgraded", "Moved to a larger tier"


class CapacityNotice(models.Model):
    """What staff are told about an event's capacity (events/capacity.py): the audience
    reaching 80% or 95% of its tier (once per tier), or the event moved to a larger tier (by
    an owner, or by itself to its pre-authorised tier). The row is the email's outbox
    (`mail_due`, sent once by the task on commit or beat's sweep); the dashboard shows the
    latest."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="capacity_notices")
    kind = models.CharField(max_length=10, choices=CapacityNoticeKind.choices)
    tier = models.ForeignKey(CapacityTier, on_delete=models.PROTECT, related_name="+")
    from_tier = models.ForeignKey(
        CapacityTier, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    viewers = models.PositiveIntegerField()
    by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    mail_due = models.BooleanField(default=True)
    mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "tier", "kind"],
                condition=models.Q(kind__in=["80", "95"]),
                name="capacity_alert_once_per_tier",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(mail_due=True),
                name="capacity_notice_mail_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: event {self.event_id}"
