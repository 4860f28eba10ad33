"""HTTP for returning donors (donations.saved_donors, donor_codes, one_tap): the saved card this
browser may use, "Not you? Forget this device", the emailed code, and the one-tap gift. Every
POST needs the CSRF token, as the start does; answers that depend on the cookie are never
cached."""

from __future__ import annotations

import re

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from donations import defence, donor_codes, one_tap, saved_donors
from donations.forms import OneTapForm
from donations.models import SavedDonor
from donations.rules import DonationRefused
from donations.views import refusal, started_answer
from events import selectors as event_selectors
from events.jsonbody import json_object

NOT_UNDERSTOOD = "The request was not understood. Reload the page and try again."
NO_SAVED_CARD = "Your saved card is not available on this device. Please give with the form."
_CODE = re.compile(r"[0-9]{6}")


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    patch_vary_headers(response, ["Cookie"])
    return response


def _card_answer(saved: SavedDonor) -> JsonResponse:
    return JsonResponse(
        {"card": saved_donors.card_label(saved), "first_name": saved.donor.first_name}
    )


def _usable_or_forget(request: HttpRequest) -> tuple[SavedDonor | None, bool]:
    """This browser's usable saved card, and whether its cookie should go (it names nothing we
    keep: forged, tampered, expired, revoked or another cookie). A card not usable yet (the
    provider has not confirmed it) or not now keeps the cookie."""
    has_cookie = saved_donors.COOKIE in request.COOKIES
    saved = saved_donors.saved_donor_for(token=saved_donors.device_token(request))
    return saved_donors.usable(saved), has_cookie and saved is None


@require_GET
def saved_card(request: HttpRequest) -> HttpResponse:
    """`{card, first_name}` of the saved card this browser may give with, or 204."""
    saved, forget = _usable_or_forget(request)
    response: HttpResponse = _card_answer(saved) if saved else HttpResponse(status=204)
    if forget:
        saved_donors.forget_device(response)
    return _private(response)


@require_POST
def forget_device(request: HttpRequest) -> HttpResponse:
    """ "Not you? Forget this device": the saved card is no longer offered in this browser."""
    response = HttpResponse(status=204)
    saved_donors.forget_device(response)
    return _private(response)


def _email(data: dict[str, object] | None) -> str | None:
    field = forms.EmailField(max_length=254)
    try:
        return str(field.clean((data or {}).get("email"))).lower()
    except forms.ValidationError:
        return None


@require_POST
def request_code(request: HttpRequest) -> JsonResponse:
    """ "Given before? Get a code by email": the same answer for any address."""
    email = _email(json_object(request.body))
    if email is None:
        return refusal(DonationRefused("Enter a valid email address.", field="email"))
    try:
        defence.check_code_request_limits(ip=request.META.get("REMOTE_ADDR", ""), email=email)
    except DonationRefused as exc:
        return refusal(exc)
    donor_codes.request_code(email=email)
    return JsonResponse({"message": donor_codes.SENT_ANSWER})


@require_POST
def check_code(request: HttpRequest) -> HttpResponse:
    """A right code lets this browser give with the address's saved card (the cookie)."""
    data = json_object(request.body)
    email = _email(data)
    code = re.sub(r"\s", "", str((data or {}).get("code", "")))[:20]
    if email is None:
        return refusal(DonationRefused("Enter a valid email address.", field="email"))
    if not _CODE.fullmatch(code):
        return refusal(DonationRefused("Enter the 6 digits from the email.", field="code"))
    try:
        defence.check_code_check_limits(ip=request.META.get("REMOTE_ADDR", ""), email=email)
        saved = donor_codes.check_code(email=email, code=code)
    except DonationRefused as exc:
        return refusal(exc)
    response = _card_answer(saved)
    saved_donors.remember_device(response, saved.token)
    return _private(response)


@require_POST
def give_one_tap(request: HttpRequest, slug: str) -> HttpResponse:
    """The one-tap gift: the start view's answer, with the saved payment method to confirm."""
    event = event_selectors.access_public_event(slug=slug)
    data = json_object(request.body)
    if data is None:
        return refusal(DonationRefused(NOT_UNDERSTOOD))
    form = OneTapForm(data)
    if not form.is_valid():
        field, message = form.first_error()
        return refusal(DonationRefused(message, field=field))
    saved, forget = _usable_or_forget(request)
    try:
        defence.check_page_token(token=form.cleaned_data["page_token"], event_id=event.pk)
        if saved is None:
            raise DonationRefused(NO_SAVED_CARD, status=403, field="saved_card")
        defence.check_rate_limits(ip=request.META.get("REMOTE_ADDR", ""), email=saved.email)
        started = one_tap.start_one_tap(event=event, saved=saved, tap=form.to_one_tap())
    except DonationRefused as exc:
        refused = refusal(exc)
        if forget:
            saved_donors.forget_device(refused)
        return _private(refused)
    response = started_answer(started, payment_method=saved.payment_method_id)
    saved_donors.remember_device(response, saved.token)  # another year from now
    return _private(response)
