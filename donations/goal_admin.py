"""Milestones and match offers as inlines of the event's change page (EventAdmin.add_inline),
so they are scoped as the event is: another campaign's event is a 404, a viewer reads them.

The forms check what staff type as the services do (donations/milestones.py, matching.py) and
the formsets the rows against each other; saving goes through the services, under the event's
row lock. A refused form changes nothing (the admin saves nothing unless every form is valid).
"""

from __future__ import annotations

import itertools
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from donations import matching, milestones
from donations.goal_models import MatchOffer, MatchRatio, Milestone
from events.admin.event import EventAdmin, EventRowInline
from events.models import Event
from events.money import format_money

RATIO_ERROR = "A match is 1:1 (every gift doubled) or 2:1 (every gift tripled)."


def _kept(formset: BaseInlineFormSet[Any, Event, Any]) -> list[forms.ModelForm[Any]]:
    return [
        form for form in formset.forms
        if form.is_valid() and not form.cleaned_data.get("DELETE")
        and (form.instance.pk or form.has_changed())
    ]  # fmt: skip


# --- Milestones


class MilestoneForm(forms.ModelForm[Milestone]):
    class Meta:
        model = Milestone
        fields = ["amount_minor", "percent"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("DELETE") or not self.has_changed() or self.errors:
            return data
        if self.instance.crossed_at is not None:
            raise ValidationError("This milestone was already celebrated: add a new one instead.")
        event = Event.objects.select_related("campaign").get(pk=self.instance.event_id)
        milestones.check_milestone(
            event=event, amount_minor=data.get("amount_minor"), percent=data.get("percent"),
            milestone_id=self.instance.pk,
        )  # fmt: skip
        return data


class MilestoneFormSet(BaseInlineFormSet[Milestone, Event, forms.ModelForm[Milestone]]):
    def clean(self) -> None:
        super().clean()
        goal = self.instance.goal_minor
        seen: set[int] = set()
        for form in _kept(self):
            data = form.cleaned_data
            point = milestones.threshold_minor(
                amount_minor=data.get("amount_minor"), percent=data.get("percent"), goal_minor=goal
            )
            if point in seen:
                money = format_money(point, self.instance.campaign.currency, grouped=True)
                raise ValidationError(f"Two milestones are at {money}: keep one.")
            seen.add(point)

    def save_new(self, form: forms.ModelForm[Milestone], commit: bool = True) -> Milestone:
        data = form.cleaned_data
        return milestones.save_milestone(
            event_id=self.instance.pk, amount_minor=data.get("amount_minor"),
            percent=data.get("percent"),
        )  # fmt: skip

    def save_existing(
        self, form: forms.ModelForm[Milestone], obj: Milestone, commit: bool = True
    ) -> Milestone:
        data = form.cleaned_data
        return milestones.save_milestone(
            event_id=self.instance.pk, amount_minor=data.get("amount_minor"),
            percent=data.get("percent"), milestone_id=obj.pk,
        )  # fmt: skip

    def delete_existing(self, obj: Milestone, commit: bool = True) -> None:
        milestones.remove_milestone(milestone_id=obj.pk)


class MilestoneInline(EventRowInline):
    model = Milestone
    form = MilestoneForm
    formset = MilestoneFormSet
    fields = ["amount_minor", "percent", "crossed_at"]
    readonly_fields = ["crossed_at"]
    verbose_name = "milestone"
    verbose_name_plural = (
        "Milestones: every screen celebrates each once, when the tally first reaches it (an "
        "amount, or a percent of the goal)"
    )


# --- Match offers


class MatchOfferForm(forms.ModelForm[MatchOffer]):
    ratio = forms.TypedChoiceField(
        choices=MatchRatio.choices, coerce=int, initial=MatchRatio.ONE_TO_ONE,
        error_messages={"invalid_choice": RATIO_ERROR, "required": RATIO_ERROR},
    )  # fmt: skip

    class Meta:
        model = MatchOffer
        fields = ["sponsor", "ratio", "cap_minor", "starts_at", "ends_at"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("DELETE") or not self.has_changed() or self.errors:
            return data
        data["sponsor"] = matching.check_match_offer(
            event_id=self.instance.event_id, terms=_terms(data), offer_id=self.instance.pk
        )
        return data


def _terms(data: dict[str, Any]) -> matching.MatchTerms:
    return matching.MatchTerms(
        sponsor=data.get("sponsor") or "", ratio=data.get("ratio") or 0,
        cap_minor=data.get("cap_minor"), starts_at=data.get("starts_at"),
        ends_at=data.get("ends_at"),
    )  # fmt: skip


class MatchOfferFormSet(BaseInlineFormSet[MatchOffer, Event, forms.ModelForm[MatchOffer]]):
    def clean(self) -> None:
        super().clean()
        windows = sorted(
            (form.cleaned_data["starts_at"], form.cleaned_data["ends_at"]) for form in _kept(self)
        )
        for (_, end), (start, _) in itertools.pairwise(windows):
            if start < end:
                raise ValidationError("Two match offers overlap: one match at a time.")

    def save_new(self, form: forms.ModelForm[MatchOffer], commit: bool = True) -> MatchOffer:
        return matching.save_match_offer(event_id=self.instance.pk, terms=_terms(form.cleaned_data))

    def save_existing(
        self, form: forms.ModelForm[MatchOffer], obj: MatchOffer, commit: bool = True
    ) -> MatchOffer:
        return matching.save_match_offer(
            event_id=self.instance.pk, terms=_terms(form.cleaned_data), offer_id=obj.pk
        )

    def delete_existing(self, obj: MatchOffer, commit: bool = True) -> None:
        matching.remove_match_offer(offer_id=obj.pk)


class MatchOfferInline(EventRowInline):
    model = MatchOffer
    form = MatchOfferForm
    formset = MatchOfferFormSet
    fields = ["sponsor", "ratio", "cap_minor", "starts_at", "ends_at", "matched"]
    readonly_fields = ["matched"]
    verbose_name = "match offer"
    verbose_name_plural = (
        "Match offers: a sponsor matches every gift paid in the window, up to the cap (shown "
        "beside the tally, never counted as donations)"
    )

    @admin.display(description="matched so far")
    def matched(self, obj: MatchOffer) -> str:
        if obj.pk is None:
            return "—"
        state = next(
            s
            for s in matching.event_matching(event_id=obj.event_id, now=timezone.now()).offers
            if s.offer_id == obj.pk
        )
        currency = obj.event.campaign.currency
        return (
            f"{format_money(state.matched_minor, currency, grouped=True)} of "
            f"{format_money(state.cap_minor, currency, grouped=True)}"
        )


EventAdmin.add_inline(MilestoneInline)
EventAdmin.add_inline(MatchOfferInline)
