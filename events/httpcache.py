"""Conditional GET for views that compute their own ETag (the HLS origin, tally.json)."""

from __future__ import annotations

from django.http import HttpRequest


def etag_matches(request: HttpRequest, etag: str) -> bool:
    """Whether the request's If-None-Match names `etag` (a quoted strong tag) or `*`. A weak
    tag (`W/"…"`) counts as a match, as RFC 9110 asks of GET: the answer is then a 304."""
    offered = [
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("If-None-Match", "").split(",")
    ]
    return etag in offered or "*" in offered
