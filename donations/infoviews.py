"""The best-efforts follow-up form a donor reaches from the email's signed link: GET shows it,
POST records the answer on every gift it asks about (donations.compliance.besteffort)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from donations.compliance import besteffort
from donations.forms import InfoAnswerForm


@require_http_methods(["GET", "POST"])
def info_request(request: HttpRequest, token: str) -> HttpResponse:
    found = besteffort.request_for_token(token)
    if found is None:
        raise Http404("This link is not valid. Use the link in the most recent email.")
    context = {"campaign": found.campaign, "answered": found.answered_at is not None}
    if request.method == "GET" or found.answered_at is not None:
        return render(request, "donations/info_request.html", {**context, "form": InfoAnswerForm()})
    form = InfoAnswerForm(request.POST)
    if not form.is_valid():
        return render(request, "donations/info_request.html", {**context, "form": form}, status=400)
    besteffort.record_answer(request_id=found.pk, answer=form.to_answer())
    return render(request, "donations/info_request.html", {**context, "answered": True})
