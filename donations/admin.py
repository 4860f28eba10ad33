"""Donations in the staff admin: read-only ledger rows scoped to the staff's campaigns, a
refund action, the CSV export link, and the ledger issues staff must look at."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html_join

from donations import goal_admin as goal_admin  # the event page's milestones and matches
from donations import queue_admin as queue_admin  # registers the treasurer's queue
from donations import refunds
from donations.models import (
    Donation,
    InfoRequest,
    LedgerIssue,
    MonthlyGift,
    MonthlyGiftChange,
    MonthlyGiftStop,
    ProviderEvent,
)
from events.admin.scoping import CampaignScopedAdmin, member_ids
from events.models import Campaign
from events.money import format_money


class _ReadOnlyAdmin(CampaignScopedAdmin):
    """Rows only the ledger writes: staff read them (and act through actions), every field
    read-only, none added here."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class _LedgerAdmin(_ReadOnlyAdmin):
    """Money on the ledger (donations, monthly gifts): not deleted either."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description="Refund the selected donations (in full)")
def refund_donations(
    modeladmin: DonationAdmin, request: HttpRequest, queryset: QuerySet[Donation]
) -> None:
    writable = member_ids(request, write=True)
    done = 0
    for donation in queryset:
        if not request.user.is_superuser and donation.campaign_id not in writable:
            messages.error(request, f"You may not refund donation {donation.pk}.")
            continue
        try:
            refunds.refund_donation(donation_id=donation.pk, user_id=request.user.pk)
        except refunds.RefundRefused as exc:
            messages.error(request, str(exc))
            continue
        done += 1
    if done:
        messages.success(
            request,
            f"Refund requested for {done} donation(s). The tally changes when the payment "
            "provider confirms the refund.",
        )


class DonationAdmin(_LedgerAdmin):
    list_display = [
        "id",
        "created_at",
        "event",
        "amount_display",
        "interval_display",
        "status",
        "email",
        "refcode",
        "ask_tag",
    ]
    # Only the events in the staff's own list: the plain filter would name every campaign's events.
    list_filter = [
        "status",
        "interval",
        ("event", admin.RelatedOnlyFieldListFilter),
        "refcode",
        "ask_tag",
        "created_at",
        "provider",
    ]
    search_fields = ["=id", "email", "last_name", "payment_id"]
    date_hierarchy = "created_at"
    actions = [refund_donations]
    list_select_related = ["event"]
    show_full_result_count = False  # no COUNT(*) over a large ledger on every page

    @admin.display(description="amount", ordering="amount_minor")
    def amount_display(self, obj: Donation) -> str:
        return format_money(obj.amount_minor, obj.currency)

    @admin.display(description="interval", ordering="interval")
    def interval_display(self, obj: Donation) -> str:
        return obj.get_interval_display()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:
        campaigns = Campaign.objects.filter(pk__in=member_ids(request, write=False))
        if request.user.is_superuser:
            campaigns = Campaign.objects.all()
        links = format_html_join(
            " · ",
            '<a href="{}">Export {} (CSV)</a> (Schedule A: <a href="{}">CSV</a>, '
            '<a href="{}">.fec</a>)',
            (
                (
                    reverse("donations:export", args=[c.pk]),
                    c.name,
                    reverse("donations:schedule_a_csv", args=[c.pk]),
                    reverse("donations:schedule_a_fec", args=[c.pk]),
                )
                for c in campaigns.only("pk", "name")[:20]
            ),
        )
        extra = {"title": "Donations", "subtitle": links, **(extra_context or {})}
        return super().changelist_view(request, extra)


class MonthlyGiftChangeInline(admin.TabularInline[MonthlyGiftChange, MonthlyGift]):
    """What the donor (their self-service page) or the provider changed, newest first."""

    model = MonthlyGiftChange
    fields = ["created_at", "what", "source"]
    readonly_fields = ["created_at", "what", "source"]
    extra = 0
    can_delete = False
    verbose_name_plural = "changes (amount, pause, end)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MonthlyGiftAdmin(_LedgerAdmin):
    """Monthly gifts: read-only; their months are the donations with the same gift, their
    changes (the donor's amount, pause and end) listed below each one."""

    list_display = [
        "id",
        "created_at",
        "event",
        "amount_display",
        "interval",
        "status",
        "paused",
        "ended_at",
    ]
    list_filter = ["status", "paused", "interval", "provider"]
    search_fields = ["=id", "subscription_id", "first_donation__email"]
    list_select_related = ["event"]
    inlines = [MonthlyGiftChangeInline]

    @admin.display(description="amount each month", ordering="amount_minor")
    def amount_display(self, obj: MonthlyGift) -> str:
        return format_money(obj.amount_minor, obj.currency)


class LedgerIssueAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "kind", "donation", "detail"]
    list_filter = ["kind"]
    campaign_path = "campaign"


class MonthlyGiftStopAdmin(_ReadOnlyAdmin):
    """Monthly gifts stopped at the limit per election (donations/compliance/stops.py)."""

    campaign_path = "monthly_gift__campaign"
    list_display = ["created_at", "monthly_gift", "election", "room_minor", "excess_minor"]
    list_select_related = ["monthly_gift", "election"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InfoRequestAdmin(_ReadOnlyAdmin):
    """Best-efforts follow-ups (donations/compliance/besteffort.py): sent, answered or
    expired."""

    list_display = ["created_at", "email", "received_at", "sent_at", "answered_at", "expired_at"]
    list_filter = ["sent_at", "answered_at", "expired_at"]
    search_fields = ["email"]
    exclude = ["gifts"]  # never a picker over the whole ledger: the references below

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "gift_references"]

    @admin.display(description="gifts it asks about")
    def gift_references(self, obj: InfoRequest) -> str:
        return ", ".join(obj.gifts.order_by("id").values_list("reference", flat=True))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProviderEventAdmin(admin.ModelAdmin[ProviderEvent]):
    """Raw provider events: the operator's view (superusers only)."""

    list_display = ["received_at", "type", "event_id", "source", "applied_at", "donation_id"]
    list_filter = ["type", "source"]
    search_fields = ["=event_id"]
    show_full_result_count = False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.register(Donation, DonationAdmin)
admin.site.register(MonthlyGift, MonthlyGiftAdmin)
admin.site.register(LedgerIssue, LedgerIssueAdmin)
admin.site.register(ProviderEvent, ProviderEventAdmin)
admin.site.register(MonthlyGiftStop, MonthlyGiftStopAdmin)
admin.site.register(InfoRequest, InfoRequestAdmin)
