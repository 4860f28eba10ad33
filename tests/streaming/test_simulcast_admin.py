"""Simulcast destinations on the event's admin page: what staff may type (rtmp(s) servers on
public hosts, at most five), and the stream key, which is write-only: stored sealed, never
shown or logged again, replaced only when staff type a new one."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from streaming.models import SimulcastDestination, SimulcastService, SimulcastState
from streaming.simulcast import keybox, services
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

PREFIX = "simulcast_destinations"
KEY = "live-abcd-efgh-ijkl-mnop"
# A public address written as an IP: checked without a DNS lookup (nothing connects to it).
PUBLIC_SERVER = "rtmp://8.8.8.8/live2"
CHANGE = services.DestinationChange(service="custom", url=PUBLIC_SERVER, enabled=True, key=KEY)
YOUTUBE = services.DestinationChange(service="youtube", url=PUBLIC_SERVER, enabled=True, key=KEY)


def _form(event, rows, existing=()):
    """The event's change form as a browser posts it, with `existing` destinations (their
    rows first, as the page lists them) and new `rows` (dicts of the inline's fields)."""
    data = {
        "title": event.title,
        "description": event.description,
        "visibility": event.visibility,
        "starts_at_0": event.starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": event.starts_at.strftime("%H:%M:%S"),
        "ends_at_0": event.ends_at.strftime("%Y-%m-%d"),
        "ends_at_1": event.ends_at.strftime("%H:%M:%S"),
        "auto_end_minutes": str(event.auto_end_minutes),
        "giving_window_days": str(event.giving_window_days),
        "capacity_tier": str(event.capacity_tier_id),
        "goal_minor": str(event.goal_minor // 100),
        "suggested_amounts": "25, 50, 100",
        f"{PREFIX}-TOTAL_FORMS": str(len(existing) + len(rows)),
        f"{PREFIX}-INITIAL_FORMS": str(len(existing)),
        f"{PREFIX}-MIN_NUM_FORMS": "0",
        f"{PREFIX}-MAX_NUM_FORMS": "5",
        # The donations app's inlines (milestones, match offers): none here.
        "milestones-TOTAL_FORMS": "0",
        "milestones-INITIAL_FORMS": "0",
        "match_offers-TOTAL_FORMS": "0",
        "match_offers-INITIAL_FORMS": "0",
        "_continue": "Save and continue editing",
    }
    for index, row in enumerate([*existing, *rows]):
        for name, value in row.items():
            if name == "enabled" and not value:
                continue  # an unticked box is not sent
            data[f"{PREFIX}-{index}-{name}"] = "on" if value is True else value
        data[f"{PREFIX}-{index}-event"] = str(event.pk)
    return data


def _row(url=PUBLIC_SERVER, key=KEY, service=SimulcastService.CUSTOM, enabled=True, **extra):
    return {"service": service, "url": url, "key": key, "enabled": enabled, **extra}


def _url(event):
    return reverse("admin:events_event_change", args=[event.pk])


def _errors(response):
    formset = next(
        f for f in response.context["inline_admin_formsets"] if f.formset.prefix == PREFIX
    )
    messages = [m for form in formset.formset.forms for ms in form.errors.values() for m in ms]
    return messages, list(formset.formset.non_form_errors())


@pytest.fixture
def show_event(scheduled_event):
    return scheduled_event


def test_a_destination_is_added_with_its_key_sealed(manager, show_event, caplog):
    caplog.set_level(logging.DEBUG)
    response = manager.post(_url(show_event), _form(show_event, [_row()]))
    assert response.status_code == 302, _errors(response)
    (destination,) = SimulcastDestination.objects.filter(event=show_event)
    assert (destination.service, destination.url, destination.enabled, destination.state) == (
        "custom", PUBLIC_SERVER, True, SimulcastState.STOPPED,
    )  # fmt: skip
    assert KEY not in destination.key_sealed
    assert keybox.unseal(destination.key_sealed) == KEY
    assert KEY not in caplog.text


def test_the_key_is_never_shown_again(manager, show_event):
    services.add_destination(
        event_id=show_event.pk,
        change=CHANGE,
    )
    page = manager.get(_url(show_event)).content.decode()
    assert PUBLIC_SERVER in page
    assert 'placeholder="Stored. Type to replace the key"' in page
    assert KEY not in page


def test_an_empty_replace_field_keeps_the_key_and_a_typed_one_replaces_it(manager, show_event):
    destination = services.add_destination(
        event_id=show_event.pk,
        change=CHANGE,
    )
    kept = {"id": str(destination.pk), **_row(key="", enabled=False)}
    response = manager.post(_url(show_event), _form(show_event, [], existing=[kept]))
    assert response.status_code == 302, _errors(response)
    destination.refresh_from_db()
    assert (destination.enabled, keybox.unseal(destination.key_sealed)) == (False, KEY)
    replaced = {"id": str(destination.pk), **_row(key="new-key-1234")}
    response = manager.post(_url(show_event), _form(show_event, [], existing=[replaced]))
    assert response.status_code == 302, _errors(response)
    destination.refresh_from_db()
    assert keybox.unseal(destination.key_sealed) == "new-key-1234"
    assert destination.version == 3  # each change restarts a running copy


def test_a_destination_that_is_not_rtmp_is_refused(manager, show_event):
    response = manager.post(_url(show_event), _form(show_event, [_row(url="http://8.8.8.8/")]))
    assert response.status_code == 200
    errors, _ = _errors(response)
    assert errors == ["A destination must be an rtmp:// or rtmps:// URL, not http://8.8.8.8/."]
    assert not SimulcastDestination.objects.exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [("rtmp://127.0.0.1/live2", "loopback"), ("rtmps://10.0.0.5:443/app", "private"),
     ("rtmp://[::1]:1935/live", "loopback")],
)  # fmt: skip
def test_a_private_or_loopback_destination_is_refused(manager, show_event, settings, url, reason):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # as outside tests
    response = manager.post(_url(show_event), _form(show_event, [_row(url=url)]))
    assert response.status_code == 200
    (error,), _ = _errors(response)
    assert "This server cannot be streamed to" in error
    assert f"a {reason} address" in error
    assert not SimulcastDestination.objects.exists()


def test_a_new_destination_needs_a_key_of_printable_characters(manager, show_event):
    for key, message in (("", "The stream key is required."),
                         ("two words", "one word of printable characters")):  # fmt: skip
        response = manager.post(_url(show_event), _form(show_event, [_row(key=key)]))
        assert response.status_code == 200
        (error,), _ = _errors(response)
        assert message in error
    assert not SimulcastDestination.objects.exists()


def test_more_than_five_destinations_are_refused(manager, show_event):
    rows = [_row(key=f"key-{n}") for n in range(6)]
    response = manager.post(_url(show_event), _form(show_event, rows))
    assert response.status_code == 200
    _, non_form = _errors(response)
    assert len(non_form) == 1
    assert "at most 5" in non_form[0]
    assert not SimulcastDestination.objects.exists()


def test_the_service_refuses_a_sixth_destination(show_event):
    change = CHANGE
    for _ in range(5):
        services.add_destination(event_id=show_event.pk, change=change)
    with pytest.raises(ValidationError, match="at most 5"):
        services.add_destination(event_id=show_event.pk, change=change)
    assert SimulcastDestination.objects.filter(event=show_event).count() == 5


def test_a_viewer_member_sees_the_destinations_without_a_key_field(client, staff_factory,
                                                                   show_event):  # fmt: skip
    services.add_destination(
        event_id=show_event.pk,
        change=YOUTUBE,
    )
    client.force_login(staff_factory(show_event.campaign, role="viewer"))
    page = client.get(_url(show_event)).content.decode()
    assert PUBLIC_SERVER in page
    assert f'name="{PREFIX}-0-key"' not in page
    assert client.post(_url(show_event), _form(show_event, [_row()])).status_code == 403
    assert SimulcastDestination.objects.count() == 1


def test_presets_fill_the_services_rtmps_ingest():
    assert services.destination_url(service="youtube", url="") == (
        "rtmps://a.rtmps.youtube.com/live2"
    )
    assert services.destination_url(service="facebook", url="").startswith("rtmps://")
    assert services.destination_url(service="twitch", url="").startswith("rtmps://")
    assert services.destination_url(service="youtube", url=" rtmp://8.8.8.8/x ") == (
        "rtmp://8.8.8.8/x"
    )


def test_a_key_sealed_under_another_secret_cannot_be_read(settings):
    sealed = keybox.seal(KEY)
    settings.SIMULCAST_KEY_SECRET = "another secret"
    with pytest.raises(keybox.KeyUnreadable, match="replace it"):
        keybox.unseal(sealed)


def test_going_live_again_gives_failed_destinations_their_tries_back(show_event):
    other = EventFactory(campaign=show_event.campaign)
    change = CHANGE
    failed = services.add_destination(event_id=show_event.pk, change=change)
    elsewhere = services.add_destination(event_id=other.pk, change=change)
    SimulcastDestination.objects.update(state=SimulcastState.FAILED, tries=10)
    assert services.reset_for_show(event_id=show_event.pk) == 1
    failed.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (failed.state, failed.tries) == (SimulcastState.STOPPED, 0)
    assert elsewhere.state == SimulcastState.FAILED
