"""Public pages of the events app: the list of upcoming and live events, registration and the
event's `.ics`. The event page itself is the live room's (liveroom/views.py)."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST, require_safe

from events import brand, ics, registration, selectors, services
from events.models import Registration


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    events = list(selectors.public_events())
    return render(
        request,
        "events/home.html",
        {
            "live_events": [e for e in events if e.status == "live"],
            # Backstage (the green room) is still upcoming for the public.
            "upcoming_events": [e for e in events if e.status != "live"],
        },
    )


def _registered_redirect(reg: Registration) -> HttpResponse:
    response = HttpResponseRedirect(reg.event.get_absolute_url() + "#registered", status=303)
    registration.set_registration_cookie(response, reg)
    return response


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@require_POST
def register(request: HttpRequest, slug: str) -> HttpResponse:
    """The registration form's target. Success: the attendee's cookie and a 303 back to the
    event page. Bad details: the form again with its errors (400). An event that takes no
    registrations (now): a page that says why (409), and nothing stored."""
    event = selectors.access_public_event(slug=slug)
    try:
        services.check_registration_open(event=event)
    except services.RegistrationRefused as exc:
        context = {"event": event, "refused": exc.messages[0]}
        return render(request, "events/register.html", context, status=409)
    form = registration.RegistrationForm(request.POST)
    if not form.is_valid():
        context = {"event": event, "registration_form": form, "registration": None}
        return render(request, "events/register.html", context, status=400)
    try:
        reg = services.register_attendee(
            event=event, client_address=request.META.get("REMOTE_ADDR", ""), **form.cleaned_data
        )
    except services.RegistrationThrottled as exc:
        context = {"event": event, "refused": exc.messages[0]}
        response = render(request, "events/register.html", context, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except services.RegistrationRefused as exc:  # the event changed in between
        context = {"event": event, "refused": exc.messages[0]}
        return render(request, "events/register.html", context, status=409)
    if not _same_name(reg.name, form.cleaned_data["name"]):
        # The email was registered before under another name: whoever typed it now gets no
        # cookie (it would show that name); the link in the re-sent email lets its owner in.
        context = {"event": event, "sent_to": reg.email}
        return render(request, "events/register.html", context)
    return _registered_redirect(reg)


@require_safe
def registration_link(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """The confirmation email's link: remembers the attendee on this device (404 if the token
    is not one of this event's registrations)."""
    event = selectors.access_public_event(slug=slug)
    reg = selectors.registration_by_token(event=event, token=token)
    if reg is None:
        raise Http404("No such registration.")
    return _registered_redirect(reg)


@require_safe
def event_calendar(request: HttpRequest, slug: str) -> HttpResponse:
    """The event as an .ics file, for anyone: the page's "Add to calendar"."""
    event = selectors.access_public_event(slug=slug)
    response = HttpResponse(ics.build_event_ics(event=event), content_type=ics.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{ics.ics_filename(event)}"'
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def campaign_logo(request: HttpRequest, name: str) -> FileResponse:
    """A campaign's stored logo: only names `brand.logo_upload_to` gives, with the Content-Type
    of the format Pillow verified, `nosniff`, and a long cache life (a new logo gets a new
    name). nginx may serve MEDIA_ROOT/logos/ the same way instead (deploy/README.md)."""
    if not brand.LOGO_NAME.match(name):
        raise Http404
    path = f"{brand.LOGO_DIR}/{name}"
    if not default_storage.exists(path):
        raise Http404
    content_type = brand.CONTENT_TYPES[name.rsplit(".", 1)[1]]
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
