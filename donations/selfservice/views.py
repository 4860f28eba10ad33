"""The donor's self-service pages under /donations/manage/: asking for a link, opening it, the
gifts page with its receipts, and the monthly gift's changes. Every change is a POST with
CSRF from the donor's own session; a refusal is a page that says why, with its 4xx, and changes
nothing. Views parse, call one selector or service, and render."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from donations.models import Donation, MonthlyGift, MonthlyGiftStatus
from donations.receipts import long_date, receipt_context
from donations.selfservice import links, selectors, services, session
from donations.selfservice.forms import AmountForm, AskLinkForm, campaign_slug
from events.models import Campaign
from events.money import format_major, format_money


def _render(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    campaign: Campaign | None = None,
) -> HttpResponse:
    """A self-service page: in `campaign`'s brand when one campaign is concerned, never kept
    by a shared cache."""
    context = {"campaign": campaign, "link_minutes": settings.MANAGE_LINK_MINUTES, **context}
    response = render(request, f"donations/manage/{template}", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


def _refused(
    request: HttpRequest,
    title: str,
    message: str,
    status: int,
    *,
    retry_after: int | None = None,
    campaign: Campaign | None = None,
) -> HttpResponse:
    response = _render(
        request,
        "refused.html",
        {"title": title, "message": message},
        status=status,
        campaign=campaign,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _campaign(slug: str) -> Campaign | None:
    return Campaign.objects.filter(slug=slug).first() if slug else None


def _no_session(request: HttpRequest) -> HttpResponse:
    return _render(request, "ask.html", {"form": AskLinkForm(), "no_session": True}, status=403)


def _gifts_url() -> str:
    return reverse("donations:manage_gifts")


# --- Asking for a link, opening it ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest) -> HttpResponse:
    """The page with the email field. Its POST answers the same page ("check your email")
    whether or not the address has given; 400 with the field's error, 429 past the limits."""
    if request.method == "GET":
        slug = campaign_slug(request.GET.get("campaign", ""))
        form = AskLinkForm(initial={"campaign": slug})
        return _render(request, "ask.html", {"form": form}, campaign=_campaign(slug))
    form = AskLinkForm(request.POST)
    if not form.is_valid():
        campaign = _campaign(form.cleaned_data.get("campaign", ""))
        return _render(request, "ask.html", {"form": form}, status=400, campaign=campaign)
    email, slug = form.cleaned_data["email"], form.cleaned_data["campaign"]
    campaign = _campaign(slug)
    try:
        links.check_request_rate(ip=request.META.get("REMOTE_ADDR", ""), email=email)
    except links.LinkThrottled as exc:
        response = _render(
            request, "ask.html", {"form": form, "throttled": True}, status=429, campaign=campaign
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    links.request_link(email=email, campaign_slug=slug)
    return _render(request, "ask.html", {"form": form, "sent_to": email}, campaign=campaign)


@require_http_methods(["GET", "POST"])
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a "Continue" button and spends nothing (mail clients' link scanners open
    links); its POST spends the link and starts the session. A link that cannot be used: a
    page that says why and asks for a new one (400, 404 or 410)."""
    try:
        link = (
            links.check_link(token=token)
            if request.method == "GET"
            else links.use_link(token=token)
        )
    except links.LinkRefused as exc:
        context = {"refusal": exc.refusal, "form": AskLinkForm()}
        return _render(request, "link.html", context, status=exc.refusal.status)
    if request.method == "GET":
        return _render(request, "link.html", {"token": token}, campaign=link.campaign)
    response = HttpResponseRedirect(_gifts_url(), status=303)
    session.start_session(response, email=link.email, link_id=link.pk)
    return response


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    response = HttpResponseRedirect(reverse("donations:manage"), status=303)
    session.end_session(response)
    messages.info(request, "You are signed out of your gifts on this browser.")
    return response


# --- The gifts page and receipts -----------------------------------------------------------------


@dataclass(frozen=True)
class GiftRow:
    date: str
    campaign: str
    amount: str
    monthly: bool
    status: str
    reference: str
    receipt_url: str


@dataclass(frozen=True)
class MonthlyRow:
    gift: MonthlyGift
    title: str
    state: str
    started: str
    running: bool
    form: AmountForm


def _gift_row(gift: Donation) -> GiftRow:
    return GiftRow(
        date=long_date(gift.succeeded_at or gift.created_at),
        campaign=gift.campaign.name,
        amount=format_money(gift.amount_minor, gift.currency, grouped=True),
        monthly=bool(gift.interval),
        status=gift.get_status_display(),
        reference=gift.reference,
        receipt_url=reverse("donations:manage_receipt", args=[gift.reference]),
    )


def _monthly_row(gift: MonthlyGift, form: AmountForm | None) -> MonthlyRow:
    amount = format_money(gift.amount_minor, gift.currency, grouped=True)
    if gift.status == MonthlyGiftStatus.ENDED:
        state = f"Ended on {long_date(gift.ended_at or gift.created_at)}"
    elif gift.paused:
        state = "Paused: nothing is charged until you resume it"
    else:
        state = "Active: charged each month"
    return MonthlyRow(
        gift=gift,
        title=f"{amount} a month to {gift.campaign.name}",
        state=state,
        started=long_date(gift.created_at),
        running=gift.status == MonthlyGiftStatus.ACTIVE,
        form=form or AmountForm(initial={"amount": format_major(gift.amount_minor)}),
    )


def _gifts_page(
    request: HttpRequest, email: str, *, bound: tuple[int, AmountForm] | None = None
) -> HttpResponse:
    gifts = selectors.donor_gifts(email=email)
    monthly = selectors.donor_monthly_gifts(email=email)
    more = len(gifts) > selectors.MAX_GIFTS_SHOWN
    gifts = gifts[: selectors.MAX_GIFTS_SHOWN]
    context = {
        "email": email,
        "gifts": [_gift_row(g) for g in gifts],
        "more": more,
        "monthly": [
            _monthly_row(m, bound[1] if bound and bound[0] == m.pk else None) for m in monthly
        ],
        "has_error": bound is not None,
    }
    return _render(
        request,
        "gifts.html",
        context,
        status=400 if bound is not None else 200,
        campaign=selectors.only_campaign(gifts=gifts, monthly=monthly),
    )


@require_GET
def gifts(request: HttpRequest) -> HttpResponse:
    """The donor's gifts (all campaigns, newest first) and monthly gifts, with their forms."""
    email = session.session_email(request)
    if email is None:
        return _no_session(request)
    return _gifts_page(request, email)


@require_GET
def receipt(request: HttpRequest, reference: str) -> HttpResponse:
    """One of the donor's gifts as its receipt says it; anyone else's (or none): 404."""
    email = session.session_email(request)
    if email is None:
        return _no_session(request)
    gift = selectors.access_donor_gift(email=email, reference=reference)
    if gift is None:
        return _refused(
            request,
            "Receipt not found",
            "We found no gift with this reference among yours.",
            404,
        )
    context = receipt_context(donation=gift, sent_at=gift.succeeded_at or timezone.now())
    return _render(request, "receipt.html", context, campaign=gift.campaign)


# --- A monthly gift's changes --------------------------------------------------------------------


def _changed(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    return HttpResponseRedirect(_gifts_url(), status=303)


def _refusal(request: HttpRequest, exc: services.GiftChangeRefused) -> HttpResponse:
    titles = {404: "Monthly gift not found", 429: "Please wait a while"}
    return _refused(
        request,
        titles.get(exc.status, "Nothing was changed"),
        exc.message,
        exc.status,
        retry_after=exc.retry_after,
    )


@require_POST
def change_amount(request: HttpRequest, gift_id: int) -> HttpResponse:
    email = session.session_email(request)
    if email is None:
        return _no_session(request)
    form = AmountForm(request.POST)
    if form.is_valid():
        try:
            gift = services.change_monthly_amount(
                email=email, gift_id=gift_id, amount_minor=form.cleaned_data["amount"]
            )
        except services.GiftChangeRefused as exc:
            if not exc.field:
                return _refusal(request, exc)
            form.add_error("amount", exc.message)
        else:
            amount = format_money(gift.amount_minor, gift.currency, grouped=True)
            return _changed(
                request,
                f"Your monthly gift to {gift.campaign.name} is now {amount} a month, "
                "from the next month on.",
            )
    if selectors.access_donor_monthly_gift(email=email, gift_id=gift_id) is None:
        return _refusal(request, services.GiftChangeRefused(services.NOT_FOUND, status=404))
    return _gifts_page(request, email, bound=(gift_id, form))


def _set_paused(request: HttpRequest, gift_id: int, *, paused: bool) -> HttpResponse:
    email = session.session_email(request)
    if email is None:
        return _no_session(request)
    try:
        gift = services.set_monthly_paused(email=email, gift_id=gift_id, paused=paused)
    except services.GiftChangeRefused as exc:
        return _refusal(request, exc)
    if paused:
        return _changed(
            request,
            f"Your monthly gift to {gift.campaign.name} is paused: nothing is charged until "
            "you resume it.",
        )
    return _changed(request, f"Your monthly gift to {gift.campaign.name} is running again.")


@require_POST
def pause(request: HttpRequest, gift_id: int) -> HttpResponse:
    return _set_paused(request, gift_id, paused=True)


@require_POST
def resume(request: HttpRequest, gift_id: int) -> HttpResponse:
    return _set_paused(request, gift_id, paused=False)


@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, gift_id: int) -> HttpResponse:
    """GET: the confirmation step (what ends, what stays). POST: the end."""
    email = session.session_email(request)
    if email is None:
        return _no_session(request)
    if request.method == "GET":
        gift = selectors.access_donor_monthly_gift(email=email, gift_id=gift_id)
        if gift is None:
            return _refusal(request, services.GiftChangeRefused(services.NOT_FOUND, status=404))
        return _render(
            request, "cancel.html", {"row": _monthly_row(gift, None)}, campaign=gift.campaign
        )
    try:
        gift = services.cancel_monthly_gift(email=email, gift_id=gift_id)
    except services.GiftChangeRefused as exc:
        return _refusal(request, exc)
    return _changed(
        request,
        f"Your monthly gift to {gift.campaign.name} is cancelled: nothing more will be charged. "
        "Thank you for your support.",
    )
