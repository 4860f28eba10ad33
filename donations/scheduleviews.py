"""HTTP: the staff's Schedule A exports of one of their campaigns (donations.compliance.
schedule_a): the CSV and the `.fec` file, over an optional date range (?start=&end=, ISO dates)
and, for the `.fec`, the committee's FEC id (?committee_id=C12345678, else the campaign's own).
Any member of the campaign may download them (as the donations CSV); another campaign is a 404."""

from __future__ import annotations

import logging
from datetime import date

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from donations.compliance import schedule_a
from events import selectors as event_selectors
from events.exports import streaming_csv_response
from events.kinds import FEC_COMMITTEE_ID
from events.models import Campaign

log = logging.getLogger(__name__)

COMMITTEE_ID = FEC_COMMITTEE_ID


class BadQuery(Exception):
    pass


def _date(request: HttpRequest, name: str) -> date | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a date as YYYY-MM-DD, not “{raw[:20]}”.") from None


def _scope(request: HttpRequest, campaign_id: int) -> tuple[Campaign, date | None, date | None]:
    if campaign_id not in event_selectors.staff_campaign_ids(user=request.user):
        raise Http404("No such campaign.")
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    start, end = _date(request, "start"), _date(request, "end")
    if start and end and start > end:
        raise BadQuery("start must be on or before end.")
    return campaign, start, end


def _name(campaign: Campaign, ext: str) -> str:
    return f"{campaign.slug}-schedule-a-{timezone.now():%Y%m%d-%H%M}.{ext}"


@staff_member_required
@require_GET
def schedule_a_csv(request: HttpRequest, campaign_id: int) -> HttpResponse | StreamingHttpResponse:
    """The itemized receipts as a CSV, streamed."""
    try:
        campaign, start, end = _scope(request, campaign_id)
    except BadQuery as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    log.info("schedule A exported campaign_id=%s user_id=%s", campaign.pk, request.user.pk)
    lines = schedule_a.itemized_lines(campaign=campaign, start=start, end=end)
    return streaming_csv_response(
        _name(campaign, "csv"), schedule_a.CSV_HEADER, schedule_a.csv_rows(lines)
    )


@staff_member_required
@require_GET
def schedule_a_fec(request: HttpRequest, campaign_id: int) -> HttpResponse | StreamingHttpResponse:
    """The itemized receipts as the SA11AI records of an FEC electronic filing, streamed."""
    try:
        campaign, start, end = _scope(request, campaign_id)
        committee_id = request.GET.get("committee_id", "").strip().upper()
        committee_id = committee_id or campaign.fec_committee_id
        if committee_id and not COMMITTEE_ID.fullmatch(committee_id):
            raise BadQuery("committee_id must be the FEC's committee id: C and 8 digits.")
    except BadQuery as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    log.info("schedule A .fec exported campaign_id=%s user_id=%s", campaign.pk, request.user.pk)
    response = StreamingHttpResponse(
        schedule_a.fec_lines(campaign=campaign, committee_id=committee_id, start=start, end=end),
        content_type="text/plain; charset=utf-8",
    )
    response["Content-Disposition"] = content_disposition_header(True, _name(campaign, "fec"))
    response["Cache-Control"] = "no-store"
    return response
