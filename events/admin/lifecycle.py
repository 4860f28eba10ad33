"""An event's lifecycle in the admin, from one table: the list's actions and the change
page's buttons both come from LIFECYCLE, and both call the same services. Going live (and
resuming) is the show's, on the live dashboard (streaming/show.py): it needs video arriving."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from events import services
from events.admin.scoping import member_ids
from events.models import Event, EventStatus, InvalidTransition


@dataclass(frozen=True)
class Step:
    to: EventStatus
    name: str  # the list action's name (the form's `action` value)
    action: str  # the list action's label
    button: str  # the change page's button
    done: str  # "2 event(s) <done>."
    service: Callable[..., Event]


LIFECYCLE = (
    Step(EventStatus.SCHEDULED, "schedule_events", "Schedule selected events", "Schedule",
         "scheduled", services.schedule_event),
    Step(EventStatus.ENDED, "end_events", "End selected live events", "End the event",
         "ended", services.end_event),
    Step(EventStatus.CANCELLED, "cancel_events", "Cancel selected events", "Cancel the event",
         "cancelled", services.cancel_event),
)  # fmt: skip
BY_STATUS = {step.to.value: step for step in LIFECYCLE}


def run_step(
    modeladmin: admin.ModelAdmin[Event],
    request: HttpRequest,
    queryset: QuerySet[Event],
    step: Step,
) -> None:
    """Apply `step` to each event the user may change; report what was done and, one by one,
    what was refused and why (a view-only role, or a transition the event does not allow)."""
    done, refused = 0, []
    write_ids = member_ids(request, write=True)
    for event in queryset:
        if not request.user.is_superuser and event.campaign_id not in write_ids:
            refused.append(f"“{event.title}”: your role on this campaign is view-only.")
            continue
        try:
            step.service(event_id=event.pk)
        except InvalidTransition as exc:
            refused.append(exc.messages[0])
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{done} event(s) {step.done}.", messages.SUCCESS)
    for message in refused:
        modeladmin.message_user(request, message, messages.ERROR)


def _list_action(step: Step) -> Callable[..., None]:
    def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        run_step(modeladmin, request, queryset, step)

    action.__name__ = step.name
    return admin.action(description=step.action)(action)


ACTIONS = [_list_action(step) for step in LIFECYCLE]
