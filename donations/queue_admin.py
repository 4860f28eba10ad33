"""The treasurer's queue in the staff admin: compliance items of the staff's campaigns with
their clocks (overdue highlighted), their audit trail, and the actions owners and treasurers
take (a POST to `<id>/act/`, one service call). Managers and viewers see it; their actions are
refused with a message and change nothing. Items are written by the queue's sweep only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from donations import treasurer
from donations.compliance.queue import ActionRefused, check_may_act, clock
from donations.models import ComplianceAction, ComplianceItem
from events.admin.scoping import CampaignScopedAdmin
from events.money import format_money


class ComplianceActionInline(admin.TabularInline[ComplianceAction, ComplianceItem]):
    """The audit trail: who did what when, oldest first; append-only."""

    model = ComplianceAction
    fields = ("created_at", "user", "what", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "audit trail"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # whoever sees the item (its admin scopes that) sees its trail

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ComplianceItemAdmin(CampaignScopedAdmin):
    list_display = ["id", "kind", "campaign", "gift", "amount", "opened_at", "clock", "state"]
    list_filter = ["kind", ("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["campaign", "donation"]
    search_fields = ["=id", "donation__reference"]
    fields = (
        "kind",
        "campaign",
        "gift",
        "amount",
        "election",
        "detail",
        "opened_at",
        "clock",
        "best_efforts",
        "resolved_at",
        "notice_sent_at",
    )
    readonly_fields = fields
    inlines = [ComplianceActionInline]
    change_form_template = "admin/donations/complianceitem/change_form.html"

    # Changed only through the actions (the act view): the page is read-only for everyone.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="gift")
    def gift(self, obj: ComplianceItem) -> str:
        if obj.donation is None:
            return "—"
        url = reverse("admin:donations_donation_change", args=[obj.donation.pk])
        return format_html('<a href="{}">{}</a>', url, obj.donation.reference)

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, obj: ComplianceItem) -> str:
        return format_money(obj.amount_minor, obj.campaign.currency) if obj.amount_minor else "—"

    @admin.display(description="clock", ordering="due_at")
    def clock(self, obj: ComplianceItem) -> str:
        state = clock(obj)
        if state.due_at is None:
            return "review only"
        text = f"due {state.due_at:%Y-%m-%d}"
        if obj.resolved_at is None:
            text += f", {state.days_left} day(s) left"
        if state.overdue:
            return format_html('<strong class="overdue">{}: OVERDUE</strong>', text)
        return text

    @admin.display(description="state")
    def state(self, obj: ComplianceItem) -> str:
        return "open" if obj.resolved_at is None else "resolved"

    @admin.display(description="best efforts")
    def best_efforts(self, obj: ComplianceItem) -> str:
        request = obj.info_request
        if request is None:
            return "—"
        return (
            (f"sent {request.sent_at:%Y-%m-%d}" if request.sent_at else "not sent")
            + (
                f"; answered {request.answered_at:%Y-%m-%d}"
                if request.answered_at
                else "; no answer"
            )
            + ("; expired unsent" if request.expired_at else "")
        )

    def change_page_context(self, request: HttpRequest, obj: ComplianceItem) -> dict[str, Any]:
        try:
            check_may_act(
                user_id=int(request.user.pk or 0),
                is_superuser=request.user.is_superuser,
                campaign_id=obj.campaign_id,
            )
        except ActionRefused as exc:
            return {"queue_actions": [], "queue_refusal": str(exc)}
        closing = [a for a, kinds in treasurer.CLOSING.items() if obj.kind in kinds]
        return {"queue_actions": ["note", *([] if obj.resolved_at else closing)]}

    def get_urls(self) -> list[URLPattern]:
        act = self.admin_site.admin_view(require_POST(self.act_view))
        return [
            path("<int:object_id>/act/", act, name="donations_complianceitem_act"),
            *super().get_urls(),
        ]

    def act_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        item = self.get_object(request, str(object_id))
        if item is None:
            raise Http404("No such item.")
        try:
            line = treasurer.do_item_action(
                item_id=item.pk,
                user_id=int(request.user.pk or 0),
                is_superuser=request.user.is_superuser,
                action=str(request.POST.get("action", "")),
                note=str(request.POST.get("note", ""))[:2000],
            )
        except ActionRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"Done: {line.what}.", messages.SUCCESS)
        page = reverse("admin:donations_complianceitem_change", args=[item.pk])
        return HttpResponseRedirect(page)


admin.site.register(ComplianceItem, ComplianceItemAdmin)
