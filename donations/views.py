"""HTTP: start a donation (JSON), confirm a simulated payment, Stripe's webhook, the staff's
CSV export. Views parse and translate; the services decide."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from donations import asgi as webhook_http
from donations import defence, exports, saved_donors, selectors, services
from donations.compliance import designation
from donations.forms import StartDonationForm
from donations.models import Donation
from donations.providers import get_provider
from donations.providers.base import CardUse
from donations.rules import DonationRefused
from events import selectors as event_selectors
from events.exports import streaming_csv_response
from events.jsonbody import json_object
from events.models import Campaign

log = logging.getLogger(__name__)


def _refuse(
    message: str, status: int, field: str = "", extra: dict[str, Any] | None = None
) -> JsonResponse:
    return JsonResponse({"error": message, "field": field, **(extra or {})}, status=status)


@require_POST
def start_donation(request: HttpRequest, slug: str) -> JsonResponse:
    event = event_selectors.access_public_event(slug=slug)
    data = json_object(request.body)
    if data is None:
        return _refuse("The request was not understood. Reload the page and try again.", 400)
    form = StartDonationForm(data)
    if not form.is_valid():
        field, message = form.first_error()
        return _refuse(message, 400, field)
    req = form.to_request()
    if req.save_card:  # a returning donor's new card is kept under their customer
        reuse = saved_donors.customer_to_reuse(
            token=saved_donors.device_token(request), email=req.donor.email
        )
        req = replace(req, card=CardUse(customer_id=reuse))
    try:
        defence.check_page_token(token=form.cleaned_data["page_token"], event_id=event.pk)
        defence.check_rate_limits(ip=request.META.get("REMOTE_ADDR", ""), email=req.donor.email)
        started = services.start_donation(event=event, req=req)
    except DonationRefused as exc:
        return refusal(exc)
    answer = started_answer(started)
    if started.saved_token:
        saved_donors.remember_device(answer, started.saved_token)
    return answer


def refusal(exc: DonationRefused) -> JsonResponse:
    """A refused request's answer: the message for the donor, the field, Retry-After."""
    refused = _refuse(exc.message, exc.status, exc.field, exc.extra)
    if exc.retry_after is not None:
        refused["Retry-After"] = str(exc.retry_after)
    return refused


def started_answer(started: services.StartedDonation, **extra: str) -> JsonResponse:
    """What the donate panel needs to pay, and to thank the donor once paid (and `extra`)."""
    provider = get_provider()
    ticker = selectors.ticker_entry(donation_id=started.donation_id)
    donation = Donation.objects.only("reference").get(pk=started.donation_id)
    return JsonResponse(
        {
            "donation_id": started.donation_id,
            "reference": donation.reference,
            "share_refcode": donation.share_refcode,
            "provider": started.provider,
            "client_secret": started.client_secret,
            "publishable_key": provider.publishable_key if provider else "",
            **started.amounts.as_fields(),
            # How the gift will look in the live ticker once paid (None: the donor opted out).
            "ticker": (
                {
                    "name": ticker.display_name,
                    "amount": ticker.amount_minor,
                    "message": ticker.message,
                    "masked": ticker.masked,
                }
                if ticker is not None
                else None
            ),
            # The election(s) the gift is for: [{"election": {"id", "name"}, "amount_minor"}].
            "designation": designation.designation_answer(donation_id=started.donation_id),
            **extra,
        }
    )


@require_POST
def start_monthly_upsell(request: HttpRequest) -> JsonResponse:
    """The thank-you's "Make it monthly": the one-time gift's reference and attempt key in,
    a monthly gift started (the same answer as start_donation) out."""
    data = json_object(request.body) or {}
    reference = data.get("reference")
    try:
        attempt_key = uuid.UUID(str(data.get("attempt_key")))
    except ValueError:
        attempt_key = None
    if not isinstance(reference, str) or attempt_key is None:
        return _refuse("The request was not understood. Reload the page and try again.", 400)
    try:
        email = (
            Donation.objects.filter(reference=reference, attempt_key=attempt_key)
            .values_list("email", flat=True)
            .first()
        )
        if email is not None:
            defence.check_rate_limits(ip=request.META.get("REMOTE_ADDR", ""), email=email)
        started = services.start_monthly_upsell(reference=reference, attempt_key=attempt_key)
    except DonationRefused as exc:
        return refusal(exc)
    return started_answer(started)


@require_POST
def confirm_simulated(request: HttpRequest) -> JsonResponse:
    """The simulated provider's stand-in for the Payment Element's confirm step."""
    provider = get_provider()
    if provider is None or not provider.simulated:
        raise Http404("No simulated payments here.")
    data = json_object(request.body) or {}
    secret = data.get("client_secret")
    donation_id = data.get("donation_id")
    donation = (
        Donation.objects.filter(pk=donation_id, provider="simulated").first()
        if isinstance(donation_id, int) and isinstance(secret, str)
        else None
    )
    if donation is None or secret != f"{donation.payment_id}_secret_sim":
        return _refuse("This payment was not found. Reload the page and try again.", 404)
    succeed = data.get("outcome", "succeed") != "decline"
    services.confirm_simulated_payment(donation=donation, succeed=succeed)
    donation.refresh_from_db()
    if not succeed:
        return _refuse("Your card was declined (simulated).", 402)
    return JsonResponse({"status": donation.status, "donation_id": donation.pk})


@csrf_exempt
@require_POST
async def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify the signature on the raw body, store the event by id (a repeat is a no-op),
    apply it, answer 200. Only a refused webhook gets a 4xx (Stripe then retries). In
    production the ASGI fast path (donations.asgi) answers this URL first, the same way."""
    if webhook_http.too_large(request.META.get("CONTENT_LENGTH")):
        return HttpResponse("Payload too large.", status=413, content_type="text/plain")
    payload = request.body
    answer = webhook_http.check_webhook(
        payload=payload, signature=request.headers.get("Stripe-Signature")
    )
    if answer.event is not None:
        await webhook_http.deliver(answer.event, payload)
    return HttpResponse(answer.text, status=answer.status, content_type="text/plain")


@staff_member_required
@require_GET
def export_donations(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    """Every donation of one of the staff member's campaigns, streamed row by row. Another
    campaign is a 404."""
    allowed = event_selectors.staff_campaign_ids(user=request.user)
    if campaign_id not in allowed:
        raise Http404("No such campaign.")
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    log.info("donations exported campaign_id=%s user_id=%s", campaign.pk, request.user.pk)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return streaming_csv_response(
        f"{campaign.slug}-donations-{stamp}.csv",
        exports.HEADER,
        exports.donation_rows(campaign=campaign),
    )
