"""The campaign-scoping base of every app's admin: staff see and change only their own
campaigns' objects; superusers all.

Scoping is done once, in CampaignScopedAdmin.get_queryset: lists, change pages, actions and
autocomplete all read through it, and an object outside it is a 404, not a redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from events import selectors
from events.models import Campaign, Membership, Role


def member_ids(request: HttpRequest, *, write: bool) -> set[int]:
    """Ids of the campaigns the request's user may see (or with `write`, change)."""
    # Cached per request: every permission check of one page asks the same question.
    cache_name = "_pledgecast_write_ids" if write else "_pledgecast_read_ids"
    if not hasattr(request, cache_name):
        setattr(request, cache_name, selectors.staff_campaign_ids(user=request.user, write=write))
    return getattr(request, cache_name)  # type: ignore[no-any-return]


def owner_ids(request: HttpRequest) -> set[int]:
    """Ids of the campaigns the request's user owns (cached per request)."""
    if not hasattr(request, "_pledgecast_owner_ids"):
        ids = set(
            Membership.objects.filter(user_id=request.user.pk or 0, role=Role.OWNER).values_list(
                "campaign_id", flat=True
            )
        )
        request._pledgecast_owner_ids = ids  # type: ignore[attr-defined]
    return request._pledgecast_owner_ids  # type: ignore[attr-defined,no-any-return]


class CampaignScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A ModelAdmin whose objects belong to a campaign through `campaign_path`."""

    campaign_path = "campaign"

    def _campaign_id(self, obj: Any) -> int:
        if self.campaign_path == "pk":
            return int(obj.pk)
        value = obj
        for part in self.campaign_path.split("__"):
            value = getattr(value, part)
        return int(value.pk)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.campaign_path}__in": member_ids(request, write=False)})

    def _is_staff(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_staff(request) and (
            request.user.is_superuser or bool(member_ids(request, write=False))
        )

    def _in_campaigns(self, request: HttpRequest, obj: Any, ids: Callable[[], set[int]]) -> bool:
        """Staff only; superusers always; others when `obj`'s campaign is in `ids()` (or, for
        the model as a whole, when they have any such campaign)."""
        if not self._is_staff(request):
            return False
        if request.user.is_superuser:
            return True
        campaign_ids = ids()
        return bool(campaign_ids) if obj is None else self._campaign_id(obj) in campaign_ids

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._in_campaigns(request, obj, lambda: member_ids(request, write=False))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._in_campaigns(request, obj, lambda: member_ids(request, write=True))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._in_campaigns(request, obj, lambda: owner_ids(request))

    def _require_visible(self, request: HttpRequest, object_id: str) -> None:
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404("No such object.")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self._require_visible(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def change_page_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """Extra context of an object's change page (a subclass's buttons and panels)."""
        return {}

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None:
            context.update(self.change_page_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.name == "campaign" and not request.user.is_superuser:
            kwargs["queryset"] = Campaign.objects.filter(id__in=member_ids(request, write=True))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
