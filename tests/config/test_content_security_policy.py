"""Every page carries a strict Content-Security-Policy (django-csp, config/security.py)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from config.security import content_security_policy
from events.models import EventStatus
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.mark.parametrize("path", ["/", "/admin/login/", "/events/{slug}/", "/healthz"])
def test_every_page_has_a_strict_policy(client, path):
    event = EventFactory(status=EventStatus.LIVE)
    response = client.get(path.format(slug=event.slug))
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    # Our own files, and an inline script only with this response's nonce (when a page
    # needs one): never 'unsafe-inline'.
    assert policy["script-src"][0] == "'self'"
    assert all(re.fullmatch(r"'nonce-[A-Za-z0-9+/=_-]+'", v) for v in policy["script-src"][1:])
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["frame-src"] == ["'none'"]
    assert not any("stripe" in value for values in policy.values() for value in values)


def test_stripes_origins_are_allowed_only_when_stripe_is_on(client, settings):
    settings.CONTENT_SECURITY_POLICY = content_security_policy(stripe=True)
    event = EventFactory(status=EventStatus.LIVE)
    policy = directives(client.get(f"/events/{event.slug}/"))
    assert "https://js.stripe.com" in policy["script-src"]
    assert "https://hooks.stripe.com" in policy["frame-src"]
    assert "https://api.stripe.com" in policy["connect-src"]


def test_the_one_inline_script_runs_by_its_responses_nonce(client, staff_factory, scheduled_event):
    # The stream key page's copy button: the script's nonce is the header's.
    client.force_login(staff_factory(scheduled_event.campaign, role="manager"))
    response = client.post(
        reverse("admin:streaming_stream_add"),
        {"event": scheduled_event.pk, "mode": "push", "relay_url": "", "record": "on"},
    )
    nonce = re.search(r'<script nonce="([^"]+)">', response.content.decode())[1]
    assert f"'nonce-{nonce}'" in directives(response)["script-src"]
