"""Event registration's edges: the form, the attendee's signed cookie, what the event page
needs to show the registration panel, and the confirmation email.

The writes are `events.services.register_attendee` and
`events.confirmations.send_registration_confirmation`;
the read is `events.selectors.registration_for`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.mime.text import MIMEText
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from events import ics, selectors
from events.models import Event, Registration

NAME_MAX_LENGTH = 200
EMAIL_MAX_LENGTH = 254
# Line breaks and other controls have no place in a name (it goes into emails and calendars).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def check_registration_details(*, name: str, email: str) -> tuple[str, str]:
    """The name stripped and the email stripped and lower-cased, or a ValidationError whose
    messages, by field ("name", "email"), are written for the attendee."""
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "Please enter your name."
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = (
            f"Please shorten your name to {NAME_MAX_LENGTH} characters or fewer "
            f"(it has {len(name)})."
        )
    elif _CONTROLS.search(name):
        errors["name"] = "Your name cannot contain line breaks or control characters."
    email = email.strip().lower()
    if not email:
        errors["email"] = "Please enter your email address."
    elif len(email) > EMAIL_MAX_LENGTH:
        errors["email"] = f"An email address has at most {EMAIL_MAX_LENGTH} characters."
    else:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = "Please enter a valid email address, like name@example.com."
    if errors:
        raise ValidationError(errors)
    return name, email


class RegistrationForm(forms.Form):
    """Parses the posted name and email; the checks are check_registration_details, so the
    form and the service refuse the same things with the same words. The panel renders the
    inputs itself (labels, autocomplete, aria-describedby)."""

    name = forms.CharField(required=False, strip=False)
    email = forms.CharField(required=False, strip=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        name, email = check_registration_details(
            name=data.get("name") or "", email=data.get("email") or ""
        )
        return {"name": name, "email": email}


# --- The attendee's cookie ---------------------------------------------------------------------
# One per event, signed (salted by its name), carrying the registration's token.


def cookie_name(event: Event) -> str:
    return selectors.registration_cookie_name(event=event)


def set_registration_cookie(response: HttpResponse, registration: Registration) -> None:
    """Remember the attendee on this browser until a day after the event ends. Not readable by
    scripts; sent on top-level navigations from other sites (Lax), so the email's link works."""
    event = registration.event
    response.set_cookie(
        cookie_name(event),
        selectors.registration_cookie_signer(event=event).sign(registration.token),
        expires=event.ends_at + timedelta(days=1),
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    # A response that sets an attendee's cookie is theirs alone: no shared cache keeps it.
    response["Cache-Control"] = "private, no-store"


def registration_from_request(request: HttpRequest, event: Event) -> Registration | None:
    """The visitor's registration for this event, if their cookie carries a valid one."""
    return selectors.registration_for(
        event=event, request_cookie_value=request.COOKIES.get(cookie_name(event))
    )


def registration_context(request: HttpRequest, event: Event) -> dict[str, Any]:
    """What the event page needs for templates/events/registration_panel.html. Makes no query
    unless the event asks for registration and the visitor has this event's cookie."""
    registration = (
        registration_from_request(request, event) if event.registration_required else None
    )
    return {
        "registration_required": event.registration_required,
        "registration": registration,
        "registration_form": RegistrationForm(),
    }


# --- The confirmation email ---------------------------------------------------------------------


def join_url(registration: Registration) -> str:
    """The email's link: it sets the attendee's cookie on whatever device opens it."""
    path = reverse(
        "events:registration_link",
        kwargs={"slug": registration.event.slug, "token": registration.token},
    )
    return settings.SITE_URL + path


def _when(event: Event) -> str:
    start, end = event.starts_at, event.ends_at
    return f"{start:%A, %B} {start.day}, {start:%Y}, {start:%H:%M} to {end:%H:%M} UTC"


# A first name: letters (any script), with inner apostrophes or hyphens ("O'Neil", "Ana-Maria").
_FIRST_NAME = re.compile(r"^[^\W\d_]+(?:['\u2019-][^\W\d_]+)*$")
FIRST_NAME_MAX = 24


def greeting_name(name: str) -> str:
    """What the email calls the attendee: the first word of their name when it is a plain
    first name of at most FIRST_NAME_MAX characters, else "there". Nothing else a registrant
    types reaches the email, so a stranger's address cannot be sent anybody's text."""
    first = name.split()[0] if name.split() else ""
    if len(first) <= FIRST_NAME_MAX and _FIRST_NAME.match(first):
        return first
    return "there"


def confirmation_email(registration: Registration) -> EmailMultiAlternatives:
    """The confirmation: plain text and HTML (escaped), greeting the attendee by a short first
    name only (`greeting_name`), with the event as an .ics attachment (text/calendar;
    method=PUBLISH)."""
    event = registration.event
    title = " ".join(event.title.split())  # a header must not break lines
    campaign = event.campaign.name
    page = ics.event_url(event)
    link = join_url(registration)
    when = _when(event)
    greeting = greeting_name(registration.name)
    text = (
        f"Hi {greeting},\n\n"
        f"You're registered for “{title}” with {campaign}.\n\n"
        f"When: {when}\n"
        f"Event page: {page}\n\n"
        f"To watch on any device, open this link there (it is yours, please don't share it):\n"
        f"{link}\n\n"
        f"The attached file ({ics.ics_filename(event)}) adds the event to your calendar.\n\n"
        f"If you did not register, you can ignore this email.\n"
    )
    # A political committee's "Paid for by" line ends every email it sends.
    paid_for_by = event.campaign.paid_for_by
    if paid_for_by:
        text += f"\n{paid_for_by}\n"
    html = format_html(
        '<!doctype html><html lang="en"><body style="font-family: sans-serif; color: #1a1d24;">'
        "<p>Hi {},</p>"
        "<p>You're registered for <strong>“{}”</strong> with {}.</p>"
        "<p><strong>When:</strong> {}<br>"
        '<strong>Event page:</strong> <a href="{}">{}</a></p>'
        "<p>To watch on any device, open this link there "
        "(it is yours, please don't share it):<br>"
        '<a href="{}">Join “{}”</a></p>'
        "<p>The attached file ({}) adds the event to your calendar.</p>"
        '<p style="color: #5a6170;">If you did not register, you can ignore this email.</p>'
        "{}</body></html>",
        greeting,
        title,
        campaign,
        when,
        page,
        page,
        link,
        title,
        ics.ics_filename(event),
        format_html("<p>{}</p>", paid_for_by) if paid_for_by else "",
    )
    message = EmailMultiAlternatives(
        subject=f"You're registered: {title}",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[registration.email],
    )
    message.attach_alternative(str(html), "text/html")
    calendar = MIMEText(ics.build_event_ics(event=event), "calendar", "utf-8")
    calendar.set_param("method", "PUBLISH")
    calendar.add_header("Content-Disposition", "attachment", filename=ics.ics_filename(event))
    message.attach(calendar)
    return message
