"""Event registration: the service, the form's view, the attendee's cookie, the email link and
the confirmation email with its .ics."""

from __future__ import annotations

import threading
from datetime import timedelta

import icalendar
import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.utils import timezone

from events import confirmations, ics, registration, selectors, services
from events.models import Event, EventStatus, Registration
from tests.factories import EventFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture(autouse=True)
def _a_town_hall_that_asks_for_registration(event):
    """The shared event, scheduled, titled "Town hall", asking for registration."""
    event.status = EventStatus.SCHEDULED
    event.registration_required = True
    event.title = "Town hall"
    event.save(update_fields=["status", "registration_required", "title"])


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run what the service enqueues on commit (Celery is eager here)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _register(event, on_commit, name="Ada Lovelace", email="ada@example.org"):
    with on_commit():
        return services.register_attendee(event=event, name=name, email=email)


# --- The service --------------------------------------------------------------------------------


def test_it_registers_with_a_stripped_name_and_a_lower_cased_email(event, on_commit):
    reg = _register(event, on_commit, name="  Ada Lovelace ", email=" Ada@Example.ORG ")
    stored = Registration.objects.get()
    assert (stored.pk, stored.event_id, stored.name, stored.email) == (
        reg.pk,
        event.pk,
        "Ada Lovelace",
        "ada@example.org",
    )
    assert len(stored.token) == 43
    assert stored.confirmation_sent_at is not None
    assert stored.confirmation_due_at is None
    assert [m.to for m in mail.outbox] == [["ada@example.org"]]


def test_the_confirmation_is_sent_only_after_commit(event, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.register_attendee(event=event, name="Ada", email="ada@example.org")
    assert mail.outbox == []
    assert len(callbacks) == 1


def test_registering_again_returns_the_first_registration_and_sends_no_second_email_soon(
    event, on_commit
):
    first = _register(event, on_commit)
    again = _register(event, on_commit, name="Someone Else", email="ADA@example.org")
    assert again.pk == first.pk
    assert (again.name, again.token) == ("Ada Lovelace", first.token)
    assert Registration.objects.count() == 1
    assert len(mail.outbox) == 1


def test_registering_again_after_the_resend_interval_resends_the_confirmation(event, on_commit):
    first = _register(event, on_commit)
    long_ago = timezone.now() - confirmations.REGISTRATION_RESEND_INTERVAL - timedelta(seconds=1)
    Registration.objects.filter(pk=first.pk).update(confirmation_sent_at=long_ago)
    _register(event, on_commit)
    assert len(mail.outbox) == 2
    assert Registration.objects.get().confirmation_sent_at > long_ago


@pytest.mark.parametrize(
    ("name", "email", "errors"),
    [
        ("", "ada@example.org", {"name": ["Please enter your name."]}),
        ("   ", "ada@example.org", {"name": ["Please enter your name."]}),
        (
            "x" * 201,
            "ada@example.org",
            {"name": ["Please shorten your name to 200 characters or fewer (it has 201)."]},
        ),
        (
            "Ada\nLovelace",
            "ada@example.org",
            {"name": ["Your name cannot contain line breaks or control characters."]},
        ),
        ("Ada", "", {"email": ["Please enter your email address."]}),
        (
            "Ada",
            "ada@example",
            {"email": ["Please enter a valid email address, like name@example.com."]},
        ),
        (
            "Ada",
            "a" * 250 + "@x.org",
            {"email": ["An email address has at most 254 characters."]},
        ),
    ],
)
def test_bad_details_are_refused_with_a_message_per_field_and_nothing_stored(
    event, on_commit, name, email, errors
):
    with pytest.raises(ValidationError) as refused:
        _register(event, on_commit, name=name, email=email)
    assert refused.value.message_dict == errors
    assert Registration.objects.count() == 0
    assert mail.outbox == []


def test_a_name_of_exactly_200_characters_is_accepted(event, on_commit):
    assert len(_register(event, on_commit, name="x" * 200).name) == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"status": EventStatus.SCHEDULED, "registration_required": False},
            "This event does not ask for registration: you can watch it without registering.",
        ),
        (
            {"status": EventStatus.ENDED, "registration_required": True},
            "This event is over: registration is closed.",
        ),
        (
            {"status": EventStatus.CANCELLED, "registration_required": True},
            "This event was cancelled.",
        ),
        (
            {"status": EventStatus.DRAFT, "registration_required": True},
            "Registration for this event is not open yet.",
        ),
        (
            {
                "status": EventStatus.SCHEDULED,
                "registration_required": True,
                "starts_at": timezone.now() - timedelta(hours=3),
                "ends_at": timezone.now() - timedelta(hours=1),
            },
            "This event is over: registration is closed.",
        ),
    ],
)
def test_an_event_that_takes_no_registrations_refuses_and_stores_nothing(
    on_commit, kwargs, message
):
    closed = EventFactory(**kwargs)
    with pytest.raises(services.RegistrationRefused) as refused:
        _register(closed, on_commit)
    assert refused.value.messages == [message]
    assert Registration.objects.count() == 0
    assert mail.outbox == []


def test_a_live_event_takes_registrations(on_commit):
    live = EventFactory(status=EventStatus.LIVE, registration_required=True)
    assert _register(live, on_commit).event_id == live.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_email_store_one_row_and_send_one_email():
    event = EventFactory(status=EventStatus.SCHEDULED, registration_required=True)
    barrier = threading.Barrier(6)
    results: list[int] = []
    errors: list[BaseException] = []

    def register(i: int) -> None:
        try:
            barrier.wait()
            reg = services.register_attendee(
                event=event, name="Ada Lovelace", email=f"{'ADA' if i % 2 else 'ada'}@example.org"
            )
            results.append(reg.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(results) == 6
    assert len(set(results)) == 1
    assert Registration.objects.count() == 1
    assert len(mail.outbox) == 1


# --- The confirmation email ---------------------------------------------------------------------


def test_the_email_has_text_html_and_the_ics_attachment(event, on_commit):
    reg = _register(event, on_commit)
    (message,) = mail.outbox
    assert message.subject == "You're registered: Town hall"
    assert message.from_email == "Pledgecast <receipts@localhost>"
    assert message.to == ["ada@example.org"]
    link = f"http://127.0.0.1:8000/events/{event.slug}/registration/{reg.token}"
    # The greeting is the first name alone: none of the registrant's other free text.
    assert message.body.startswith("Hi Ada,\n\nYou're registered for “Town hall”")
    assert link in message.body
    ((html, html_type),) = message.alternatives
    assert html_type == "text/html"
    assert "<p>Hi Ada,</p>" in html
    assert f'<a href="{link}">' in html

    parsed = message.message()
    assert parsed.get_content_type() == "multipart/mixed"
    calendars = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendars) == 1
    part = calendars[0]
    assert part.get_param("method") == "PUBLISH"
    assert part.get_param("charset") == "utf-8"
    assert part.get_filename() == f"{event.slug}.ics"
    assert part.get("Content-Disposition").startswith("attachment")
    raw = part.get_payload(decode=True)
    assert b"\r\n" in raw
    assert raw.replace(b"\r\n", b"").count(b"\n") == 0
    calendar = icalendar.Calendar.from_ical(raw)
    assert calendar["METHOD"] == "PUBLISH"
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["UID"]) == ics.event_uid(event)
    assert str(vevent["SUMMARY"]) == "Town hall"
    # iCalendar times have whole seconds.
    assert vevent.decoded("DTSTART") == event.starts_at.replace(microsecond=0)
    assert vevent.decoded("DTEND") == event.ends_at.replace(microsecond=0)


def test_a_name_made_of_markup_never_reaches_the_email(event, on_commit):
    _register(event, on_commit, name="<script>alert(1)</script> & Co")
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    assert "script" not in html
    assert "script" not in message.body
    assert "<p>Hi there,</p>" in html
    assert message.body.startswith("Hi there,\n")


def _due_registration(event) -> Registration:
    return Registration.objects.create(
        event=event,
        name="Ada",
        email="a@example.org",
        token="t",
        confirmation_due_at=timezone.now(),
    )


def test_no_confirmation_goes_out_once_the_event_is_over(event):
    reg = _due_registration(event)
    Event.objects.filter(pk=event.pk).update(status=EventStatus.ENDED)
    assert confirmations.send_registration_confirmation(registration_id=reg.pk) is False
    assert mail.outbox == []
    stored = Registration.objects.get()
    assert (stored.confirmation_sent_at, stored.confirmation_due_at) == (None, None)


def test_a_failed_send_releases_the_claim_for_a_retry(event, settings):
    reg = _due_registration(event)
    settings.EMAIL_BACKEND = "tests.events.test_registration.FailingBackend"
    with pytest.raises(ConnectionRefusedError):
        confirmations.send_registration_confirmation(registration_id=reg.pk)
    stored = Registration.objects.get()
    assert (stored.confirmation_sent_at, stored.confirmation_due_at) == (
        None,
        reg.confirmation_due_at,
    )
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert confirmations.send_registration_confirmation(registration_id=reg.pk) is True
    assert len(mail.outbox) == 1


class FailingBackend:
    """An SMTP server that is down (Django's email backend seam)."""

    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


# --- The view -----------------------------------------------------------------------------------


def _post(client, event, **data):
    return client.post(f"/events/{event.slug}/register", data)


def test_registering_sets_the_signed_cookie_and_redirects_to_the_event_page(
    client, event, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, event, name="Ada Lovelace", email="Ada@Example.org")
    assert response.status_code == 303
    assert response["Location"] == f"/events/{event.slug}/#registered"
    assert response["Cache-Control"] == "private, no-store"
    reg = Registration.objects.get()
    cookie = response.cookies[f"pc_registration_{event.pk}"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    expected_age = (event.ends_at + timedelta(days=1) - timezone.now()).total_seconds()
    assert abs(int(cookie["max-age"]) - expected_age) < 5
    assert reg.token not in cookie.value.split(":")[1:]  # signed, not the bare token
    assert selectors.registration_for(event=event, request_cookie_value=cookie.value) == reg
    assert len(mail.outbox) == 1


def test_the_panel_then_says_who_is_registered(client, event, on_commit):
    with on_commit():
        response = _post(client, event, name="Ada <b>Lovelace</b>", email="ada@example.org")
    request = RequestFactory().get(event.get_absolute_url())
    request.COOKIES = {k: m.value for k, m in response.cookies.items()}
    context = registration.registration_context(request, event)
    assert context["registration_required"] is True
    assert context["registration"] == Registration.objects.get()
    html = render_to_string("events/registration_panel.html", {"event": event, **context}, request)
    assert (
        "You're registered, Ada &lt;b&gt;Lovelace&lt;/b&gt;. "
        "We sent a confirmation to ada@example.org."
    ) in html
    assert f'href="/events/{event.slug}/calendar.ics">Add to calendar</a>' in html
    assert "<form" not in html


def test_a_visitor_without_the_cookie_sees_the_form_and_the_calendar_link(event, rf):
    request = rf.get(event.get_absolute_url())
    context = registration.registration_context(request, event)
    assert context["registration"] is None
    html = render_to_string("events/registration_panel.html", {"event": event, **context}, request)
    assert f'action="/events/{event.slug}/register"' in html
    assert 'autocomplete="name" required maxlength="200"' in html
    assert 'type="email" autocomplete="email" required maxlength="254"' in html
    assert '<label for="registration-email">Email</label>' in html
    assert "csrfmiddlewaretoken" in html
    assert f'href="/events/{event.slug}/calendar.ics">Add to calendar</a>' in html


def test_the_context_makes_no_query_for_a_visitor_without_the_cookie(
    event, rf, django_assert_num_queries
):
    with django_assert_num_queries(0):
        registration.registration_context(rf.get("/"), event)


def test_a_cookie_for_another_event_or_a_forged_one_is_ignored(event, on_commit):
    reg = _register(event, on_commit)
    other = EventFactory(status=EventStatus.SCHEDULED, registration_required=True)
    signed_for_other = selectors.registration_cookie_signer(event=other).sign(reg.token)
    assert selectors.registration_for(event=other, request_cookie_value=signed_for_other) is None
    forged = f"{reg.token}:forgedsignature"
    assert selectors.registration_for(event=event, request_cookie_value=forged) is None
    assert selectors.registration_for(event=event, request_cookie_value=reg.token) is None
    assert selectors.registration_for(event=event, request_cookie_value=None) is None


def test_bad_details_re_render_the_form_with_errors_and_the_typed_values(client, event, on_commit):
    with on_commit():
        response = _post(client, event, name="   ", email="ada@example")
    assert response.status_code == 400
    assert response.templates[0].name == "events/register.html"
    html = response.content.decode()
    assert '<p class="field-error" id="registration-name-error">Please enter your name.</p>' in html
    assert (
        '<p class="field-error" id="registration-email-error">'
        "Please enter a valid email address, like name@example.com.</p>"
    ) in html
    assert 'value="ada@example"' in html
    assert 'aria-invalid="true" aria-describedby="registration-email-error"' in html
    assert Registration.objects.count() == 0
    assert mail.outbox == []
    assert list(response.cookies) in ([], ["csrftoken"])  # no registration cookie


def test_a_name_with_markup_is_kept_escaped_when_the_form_comes_back(client, event):
    response = _post(client, event, name='<script>alert("x")</script>', email="nope")
    assert response.status_code == 400
    html = response.content.decode()
    assert "<script>alert" not in html
    assert 'value="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"' in html


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"status": EventStatus.SCHEDULED, "registration_required": False},
            "This event does not ask for registration: you can watch it without registering.",
        ),
        (
            {"status": EventStatus.ENDED, "registration_required": True},
            "This event is over: registration is closed.",
        ),
        (
            {"status": EventStatus.CANCELLED, "registration_required": True},
            "This event was cancelled.",
        ),
    ],
)
def test_an_event_that_takes_no_registrations_answers_409_and_stores_nothing(
    client, on_commit, kwargs, message
):
    closed = EventFactory(**kwargs)
    with on_commit():
        response = _post(client, closed, name="Ada", email="ada@example.org")
    assert response.status_code == 409
    assert message in response.content.decode()
    assert Registration.objects.count() == 0
    assert mail.outbox == []
    assert list(response.cookies) in ([], ["csrftoken"])  # no registration cookie


def test_registering_for_a_draft_event_is_not_found(client):
    draft = EventFactory(status=EventStatus.DRAFT, registration_required=True)
    assert _post(client, draft, name="Ada", email="ada@example.org").status_code == 404
    assert Registration.objects.count() == 0


def test_registration_only_takes_posts(client, event):
    assert client.get(f"/events/{event.slug}/register").status_code == 405


def test_a_post_without_the_csrf_token_is_refused(event):
    client = Client(enforce_csrf_checks=True)
    response = _post(client, event, name="Ada", email="ada@example.org")
    assert response.status_code == 403
    assert Registration.objects.count() == 0


def test_someone_typing_a_registered_email_under_another_name_gets_no_cookie(
    client, event, on_commit
):
    reg = _register(event, on_commit)
    with on_commit():
        response = _post(client, event, name="Mallory", email="ADA@example.org")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This email address is already registered for this event." in html
    assert "Ada Lovelace" not in html
    assert list(response.cookies) in ([], ["csrftoken"])  # no registration cookie
    assert Registration.objects.get().name == "Ada Lovelace"
    assert len(mail.outbox) == 1  # the first one; the resend waits for the interval
    assert reg.token not in html


def test_the_same_attendee_registering_again_on_another_device_gets_the_cookie(
    client, event, on_commit
):
    reg = _register(event, on_commit)
    with on_commit():
        response = _post(client, event, name="ada  lovelace", email="ada@example.org")
    assert response.status_code == 303
    value = response.cookies[f"pc_registration_{event.pk}"].value
    assert selectors.registration_for(event=event, request_cookie_value=value) == reg


def test_the_emails_link_remembers_the_attendee_on_the_device_that_opens_it(
    client, event, on_commit
):
    reg = _register(event, on_commit)
    response = client.get(f"/events/{event.slug}/registration/{reg.token}")
    assert response.status_code == 303
    assert response["Location"] == f"/events/{event.slug}/#registered"
    value = response.cookies[f"pc_registration_{event.pk}"].value
    assert selectors.registration_for(event=event, request_cookie_value=value) == reg


def test_the_emails_link_with_a_wrong_token_or_event_is_not_found(client, event, on_commit):
    reg = _register(event, on_commit)
    other = EventFactory(status=EventStatus.SCHEDULED, registration_required=True)
    assert client.get(f"/events/{event.slug}/registration/nope").status_code == 404
    response = client.get(f"/events/{other.slug}/registration/{reg.token}")
    assert response.status_code == 404
    assert list(response.cookies) in ([], ["csrftoken"])  # no registration cookie


# -- rate limits: nobody can make us mail strangers in bulk --------------------------------------
def test_one_address_registering_strangers_is_stopped_with_a_429_and_retry_after(
    client, event, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.REGISTRATIONS_PER_ADDRESS = 3
    statuses = []
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(6):
            response = client.post(
                f"/events/{event.slug}/register",
                {"name": "Buy cheap pills at spam.example", "email": f"stranger{i}@example.org"},
            )
            statuses.append(response.status_code)
    assert statuses == [303, 303, 303, 429, 429, 429]
    assert 0 < int(response["Retry-After"]) <= settings.REGISTRATION_RATE_WINDOW_SECONDS
    assert "Too many registrations from here." in response.content.decode()
    # Nothing stored and nothing sent past the limit.
    assert Registration.objects.filter(event=event).count() == 3
    assert len(mailoutbox) == 3


def test_one_email_registered_from_many_addresses_is_stopped_too(client, event, settings):
    settings.REGISTRATIONS_PER_EMAIL = 2
    statuses = [
        client.post(
            f"/events/{event.slug}/register",
            {"name": "Ada Lovelace", "email": "Ada@Example.org"},
            REMOTE_ADDR=f"198.51.100.{i}",
        ).status_code
        for i in range(4)
    ]
    assert statuses == [303, 303, 429, 429]


def test_the_confirmation_greets_by_a_short_first_name_and_carries_no_other_free_text(
    event, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.register_attendee(
            event=event, name="Visit http://spam.example now", email="target@example.org"
        )
        services.register_attendee(
            event=event, name="Ada-Marie " + "x" * 150, email="ada@example.org"
        )
        services.register_attendee(
            event=event, name="Bartholomewmaximilianusfrederick Jones", email="b@example.org"
        )
    spam, ada, long_name = mailoutbox
    for message in (spam, ada, long_name):
        html = message.alternatives[0][0]
        assert "spam.example" not in message.body + html
        assert "x" * 30 not in message.body + html
    # The first word, when it is a plain name: whatever came after it stays out.
    assert spam.body.startswith("Hi Visit,\n")
    assert ada.body.startswith("Hi Ada-Marie,\n")
    assert long_name.body.startswith("Hi there,\n")
