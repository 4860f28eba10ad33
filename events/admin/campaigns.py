"""Campaigns (their giving rules, required donor details, brand, attestations and staff) and the
operator's capacity tiers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from events import services
from events.admin.scoping import CampaignScopedAdmin, member_ids, owner_ids
from events.models import (
    Attestation,
    Campaign,
    CapacityTier,
    Election,
    EventStatus,
    Membership,
)
from events.money import format_money


class MembershipForm(forms.ModelForm[Membership]):
    user: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True),
        to_field_name="username",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        label="Username",
        error_messages={"invalid_choice": "No active user has that username."},
    )

    class Meta:
        model = Membership
        fields = ["user", "role"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The field is keyed by username: show the username, not the primary key.
            self.initial["user"] = self.instance.user.get_username()


class MembershipInline(admin.TabularInline[Membership, Campaign]):
    model = Membership
    form = MembershipForm
    extra = 0
    verbose_name = "staff member"
    verbose_name_plural = "staff"

    def _is_owner(self, request: HttpRequest, obj: Campaign | None) -> bool:
        if request.user.is_superuser:
            return True
        return obj is not None and obj.pk in owner_ids(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # the parent admin decides who sees the campaign

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_owner(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_owner(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_owner(request, obj)


class AttestationInline(admin.TabularInline[Attestation, Campaign]):
    model = Attestation
    extra = 0
    fields = ["text", "position"]
    formfield_overrides = {
        models.CharField: {"widget": forms.TextInput(attrs={"size": 90})},
    }

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and CampaignAdmin.can_edit(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and CampaignAdmin.can_edit(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and CampaignAdmin.can_edit(request, obj)


class ElectionInline(admin.TabularInline[Election, Campaign]):
    """The campaign's elections (owners change them; an election gifts are designated to
    cannot be deleted)."""

    model = Election
    extra = 0
    fields = ["kind", "date", "cycle"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and CampaignAdmin.can_edit(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and CampaignAdmin.can_edit(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and CampaignAdmin.can_edit(request, obj)


@admin.register(Campaign)
class CampaignAdmin(CampaignScopedAdmin):
    campaign_path = "pk"
    list_display = ["name", "legal_name", "kind", "currency", "limit_display", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["name", "slug", "legal_name"]
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ["created_at"]
    inlines = [ElectionInline, AttestationInline, MembershipInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "slug",
                    "legal_name",
                    "kind",
                    "ein",
                    "fec_committee_id",
                    "currency",
                    "created_at",
                ]
            },
        ),
        (
            "Giving rules",
            {
                "fields": [
                    "min_donation_minor",
                    "max_donation_minor",
                    "per_donor_limit_minor",
                    "monthly_enabled",
                ]
            },
        ),
        (
            "Elections, limits and itemization",
            {
                "fields": [
                    "election_limit_minor",
                    "year_limit_minor",
                    "donor_chooses_election",
                    "itemization_threshold_minor",
                    "foreign_address_policy",
                    "large_gift_minor",
                ],
                "description": (
                    "Each gift is for one of the campaign's elections (listed below): the next "
                    "one on the gift's date unless donors may choose. A donor's gifts per "
                    "election, whatever email they use, stay within the limit; a gift over it is "
                    "offered the room left and, with the donor's consent, the rest goes to the "
                    "next election of the cycle. A limit per calendar year (a PAC's) counts "
                    "every gift of the year, with or without elections."
                ),
            },
        ),
        (
            "Required donor details",
            {
                "fields": [
                    "require_name",
                    "require_email",
                    "require_address",
                    "require_employer",
                    "require_occupation",
                ]
            },
        ),
        (
            "The live ticker",
            {
                "fields": ["ticker_name_min_minor", "ticker_profanity_filter"],
                "description": (
                    "Donors choose whether their gift shows in the event page's ticker; these "
                    "rules apply to every line it shows. Staff hide a single line from the "
                    "event's live dashboard."
                ),
            },
        ),
        (
            "Brand",
            {
                "fields": [
                    "logo",
                    "brand_color",
                    "brand_text_color",
                    "political",
                    "paid_for_by",
                ],
                "description": (
                    "The event page shows the campaign's name, logo and colours; Pledgecast "
                    "appears only as a small “powered by”. Colour pairs people cannot read "
                    "are refused. A political committee's “Paid for by” line is printed at "
                    "the foot of the event page, on the thank-you after a gift, and at the "
                    "end of the receipt and the registration email."
                ),
            },
        ),
    ]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # After the inlines: statements staff just removed are not put back unless none remain.
        if not change or "kind" in form.changed_data:
            services.add_kind_attestations(campaign_id=form.instance.pk)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return qs
        return qs.filter(id__in=member_ids(request, write=False))

    @staticmethod
    def can_edit(request: HttpRequest, obj: Campaign) -> bool:
        # Campaign rules (limits, required details, staff) are the owners' to change.
        return bool(request.user.is_superuser or obj.pk in owner_ids(request))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not self._is_staff(request):
            return False
        if obj is None:
            return bool(request.user.is_superuser or owner_ids(request))
        return self.can_edit(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New campaigns are set up by the operator, who then names their owners.
        return bool(self._is_staff(request) and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A campaign carries its donation records: only the operator removes one.
        return bool(self._is_staff(request) and request.user.is_superuser)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.events.exclude(status=EventStatus.DRAFT).exists():
            # Donations are recorded in this currency: changing it would mix units.
            fields.append("currency")
        return fields

    @admin.display(description="per-donor limit")
    def limit_display(self, obj: Campaign) -> str:
        if obj.per_donor_limit_minor is None:
            return "—"
        return format_money(obj.per_donor_limit_minor, obj.currency)


@admin.register(CapacityTier)
class CapacityTierAdmin(admin.ModelAdmin[CapacityTier]):
    """Tiers are the operator's: staff may read them (to pick one), superusers change them."""

    list_display = ["name", "max_attendees", "price_display"]
    ordering = ["max_attendees"]
    search_fields = ["name"]

    @admin.display(description="price")
    def price_display(self, obj: CapacityTier) -> str:
        if obj.price_minor is None:
            return "set by the operator"
        return format_money(obj.price_minor, obj.price_currency, grouped=True)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    has_add_permission = has_module_permission

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)
