"""Staff's say over the room from the live dashboard: the questions' queue (approve, dismiss,
mark answered, pin "on screen now", unpin), the questions' settings, polls (prepare, open,
close, reveal the results, take off the page) and asks (prepare, pin, take down). The
engagement app does the work; every viewer's page follows with the next snapshot.

POSTs under `/staff/events/<id>/`. Staff of the event's campaign only (others: 404, as the
dashboard); only owners and managers may press them (viewer members: 403 with the reason); a
question or poll that is not the event's is a 404. A refused request changes nothing and says
why: on the dashboard, or `{"error": …}` to a JSON client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from engagement import asks, moments, polls, services
from engagement.models import POLL_MAX_OPTIONS, Ask, Poll, Question
from events import selectors as event_selectors
from events.fields import MajorUnitsFormField
from events.models import Event
from liveroom import dashboard, staffactions

VIEW_ONLY = (
    "Your role on this campaign is view-only: only its owners and managers can moderate "
    "questions and run polls."
)
DONE = {
    "approve": "Question approved: it is on every page.",
    "dismiss": "Question dismissed.",
    "answer": "Question marked answered.",
    "pin": "Question on screen now, for every viewer.",
    "unpin": "Question taken off the screen.",
}


def _staff_action(
    request: HttpRequest,
    event_id: int,
    act: Callable[[Event], tuple[str, dict[str, Any]]],
    anchor: str = "room",
) -> HttpResponse:
    """Checks who may press (404, 403), runs `act(event)` → (the sentence, the JSON answer),
    and answers: a redirect to the dashboard's panel `anchor` with the sentence, or JSON."""
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    if not staffactions.may_change(user=request.user, event=event):
        return staffactions.refuse_view_only(request, VIEW_ONLY)
    try:
        sentence, body = act(event)
    except services.Refused as refused:
        if refused.status == 404:
            raise Http404(refused.message) from None
        if staffactions.wants_json(request):
            return JsonResponse({"error": refused.message}, status=refused.status)
        messages.error(request, refused.message)
    else:
        if staffactions.wants_json(request):
            return JsonResponse(body)
        messages.success(request, sentence)
    page = reverse("liveroom:dashboard", args=[event.pk])
    return HttpResponseRedirect(f"{page}#{anchor}")


@require_POST
@never_cache
@staff_member_required
def question_action(
    request: HttpRequest, event_id: int, question_id: int, action: str
) -> HttpResponse:
    """POST `questions/<question id>/<approve|dismiss|answer|pin|unpin>/`."""
    if action not in services.MODERATION:
        raise Http404("No such action.")

    def act(event: Event) -> tuple[str, dict[str, Any]]:
        try:
            question = services.moderate_question(
                event_id=event.pk, question_id=question_id, action=action,
                by_user_id=request.user.pk,
            )  # fmt: skip
        except Question.DoesNotExist:
            raise Http404("No such question in this event.") from None
        body = {"question": question.pk, "status": question.status, "on_screen": question.on_screen}
        return DONE[action], body

    return _staff_action(request, event_id, act)


@require_POST
@never_cache
@staff_member_required
def question_settings(request: HttpRequest, event_id: int) -> HttpResponse:
    """POST `questions/settings/`: `questions_open` and `show_questions_at_once`, each a
    checkbox (present: on)."""

    def act(event: Event) -> tuple[str, dict[str, Any]]:
        settings = services.set_question_settings(
            event_id=event.pk,
            questions_open="questions_open" in request.POST,
            show_questions_at_once="show_questions_at_once" in request.POST,
            by_user_id=request.user.pk,
        )
        if not settings.questions_open:
            sentence = "Questions are closed."
        elif settings.show_questions_at_once:
            sentence = "Questions are open and show on every page as soon as they are asked."
        else:
            sentence = "Questions are open and wait for your approval."
        return sentence, {
            "questions_open": settings.questions_open,
            "show_questions_at_once": settings.show_questions_at_once,
        }

    return _staff_action(request, event_id, act)


POLL_DONE = {
    "open": "Poll open on every page.",
    "close": "Poll closed: the counts are final.",
    "reveal": "Results shown on every page.",
    "hide-results": "Results shown only to those who voted.",
    "remove": "Poll taken off the page.",
}


@require_POST
@never_cache
@staff_member_required
def poll_create(request: HttpRequest, event_id: int) -> HttpResponse:
    """POST `polls/`: `question`, `option` (2 to 6 of them; blank ones left out), and
    `then=open` to open it at once. A refusal sends the dashboard back with the form as it was
    typed and the reason (400), or `{"error": …}` to a JSON client."""
    question = request.POST.get("question", "")
    options = request.POST.getlist("option")[:POLL_MAX_OPTIONS]
    open_now = request.POST.get("then") == "open"

    def act(event: Event) -> tuple[str, dict[str, Any]]:
        poll = polls.create_poll(
            event_id=event.pk, question=question, options=options, by_user_id=request.user.pk
        )
        if open_now:
            poll = polls.run_poll(
                event_id=event.pk, poll_id=poll.pk, action="open", by_user_id=request.user.pk
            )
        sentence = "Poll open on every page." if open_now else "Poll prepared: open it when ready."
        return sentence, {"poll": poll.pk, "status": poll.status}

    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    if staffactions.may_change(user=request.user, event=event) and not staffactions.wants_json(
        request
    ):
        try:
            polls.check_poll(question=question, options=options)
        except services.Refused as refused:
            typed = options + [""] * (POLL_MAX_OPTIONS - len(options))
            form = {"question": question, "options": typed, "error": refused.message}
            return dashboard.render_dashboard(request, event, extra={"poll_form": form}, status=400)
    return _staff_action(request, event_id, act, anchor="polls")


@require_POST
@never_cache
@staff_member_required
def poll_action(request: HttpRequest, event_id: int, poll_id: int, action: str) -> HttpResponse:
    """POST `polls/<poll id>/<open|close|reveal|hide-results|remove>/`."""
    if action not in polls.POLL_ACTIONS:
        raise Http404("No such action.")

    def act(event: Event) -> tuple[str, dict[str, Any]]:
        try:
            poll = polls.run_poll(
                event_id=event.pk, poll_id=poll_id, action=action, by_user_id=request.user.pk
            )
        except Poll.DoesNotExist:
            raise Http404("No such poll in this event.") from None
        body = {"poll": poll.pk, "status": poll.status, "revealed": poll.results_revealed}
        return POLL_DONE[action], body

    return _staff_action(request, event_id, act, anchor="polls")


ASK_DONE = {"pin": "Ask pinned on every page.", "unpin": "Ask taken down."}


@require_POST
@never_cache
@staff_member_required
def ask_create(request: HttpRequest, event_id: int) -> HttpResponse:
    """POST `asks/`: `text`, `amount` (in the campaign's currency, as staff type it: "27"),
    `tag` (optional) and `then=pin` to pin it at once. A refusal sends the dashboard back with
    the form as typed and the reason (400), or `{"error": …}` to a JSON client."""
    text = request.POST.get("text", "")
    amount_text = request.POST.get("amount", "")
    tag = request.POST.get("tag", "")
    pin_now = request.POST.get("then") == "pin"
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    try:
        amount_minor = MajorUnitsFormField(required=True).clean(amount_text)
        if amount_minor is None:
            raise ValidationError("Enter an amount such as 25 or 25.50.")
        asks.check_ask(text=text, amount_minor=amount_minor, tag=tag)
    except (ValidationError, services.Refused) as refused:
        reason = refused.message if isinstance(refused, services.Refused) else refused.messages[0]
        if not staffactions.may_change(user=request.user, event=event):
            return staffactions.refuse_view_only(request, VIEW_ONLY)
        if staffactions.wants_json(request):
            return JsonResponse({"error": reason}, status=400)
        form = {"text": text, "amount": amount_text, "tag": tag, "error": reason}
        return dashboard.render_dashboard(request, event, extra={"ask_form": form}, status=400)

    def act(event: Event) -> tuple[str, dict[str, Any]]:
        ask = asks.create_ask(
            event_id=event.pk, text=text, amount_minor=amount_minor, tag=tag,
            by_user_id=request.user.pk,
        )  # fmt: skip
        if pin_now:
            ask = asks.run_ask(
                event_id=event.pk, ask_id=ask.pk, action="pin", by_user_id=request.user.pk
            )
        sentence = "Ask pinned on every page." if pin_now else "Ask prepared: pin it when ready."
        return sentence, {"ask": ask.pk, "tag": ask.tag, "pinned": ask.pinned}

    return _staff_action(request, event_id, act, anchor="asks")


@require_POST
@never_cache
@staff_member_required
def ask_action(request: HttpRequest, event_id: int, ask_id: int, action: str) -> HttpResponse:
    """POST `asks/<ask id>/<pin|unpin>/`."""
    if action not in asks.ASK_ACTIONS:
        raise Http404("No such action.")

    def act(event: Event) -> tuple[str, dict[str, Any]]:
        try:
            ask = asks.run_ask(
                event_id=event.pk, ask_id=ask_id, action=action, by_user_id=request.user.pk
            )
        except Ask.DoesNotExist:
            raise Http404("No such ask in this event.") from None
        return ASK_DONE[action], {"ask": ask.pk, "pinned": ask.pinned}

    return _staff_action(request, event_id, act, anchor="asks")


MOMENT_VIEW_ONLY = (
    "Your role on this campaign is view-only: only its owners, managers and treasurers can "
    "mark moments."
)


@require_POST
@never_cache
@staff_member_required
def moment_create(request: HttpRequest, event_id: int) -> HttpResponse:
    """POST `moments/`: `kind` (speaker, ask, poll, other), `label` and `key` (the form's random
    key: a double press records one moment). Now, for the report. A refusal sends the dashboard
    back with the form as typed and the reason (400), or `{"error": …}` to a JSON client."""
    kind = request.POST.get("kind", "")
    label = request.POST.get("label", "")
    key = request.POST.get("key", "")
    event = event_selectors.access_staff_event(user=request.user, event_id=event_id)
    if not staffactions.may_change(user=request.user, event=event):
        return staffactions.refuse_view_only(request, MOMENT_VIEW_ONLY)
    try:
        moments.check_moment(kind=kind, label=label)
        if kind not in moments.STAFF_KINDS:
            raise services.Refused("kind", "Milestones are marked by the ledger, not by hand.")
    except services.Refused as refused:
        if staffactions.wants_json(request):
            return JsonResponse({"error": refused.message}, status=400)
        form = {"kind": kind, "label": label, "key": key, "error": refused.message}
        return dashboard.render_dashboard(request, event, extra={"moment_form": form}, status=400)

    def act(event: Event) -> tuple[str, dict[str, Any]]:
        moment = moments.mark_moment(
            event_id=event.pk, kind=kind, label=label, form_key=key, by_user_id=request.user.pk
        )
        return f"Moment marked: {moment.title}.", {"moment": moment.pk, "title": moment.title}

    return _staff_action(request, event_id, act, anchor="moments")
