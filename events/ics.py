"""An event as an iCalendar file (RFC 5545), for "Add to calendar" and the confirmation email.

One VEVENT in a VCALENDAR published with METHOD:PUBLISH (RFC 5546). Its UID is the event's
own (not the registration's), so a calendar that imports both the page's link and the email's
attachment keeps one entry, and a later copy with a higher SEQUENCE updates it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from events.models import Event, EventStatus

PRODID = "-//Pledgecast//Pledgecast events//EN"
CONTENT_TYPE = "text/calendar; charset=utf-8; method=PUBLISH"

# TEXT may hold any character but the controls (RFC 5545 §3.3.11: TSAFE-CHAR); tabs are kept.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon and comma escaped, every line break as \\n."""
    value = _CONTROLS.sub("", value)
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def _param_value(value: str) -> str:
    # A parameter value cannot hold a double quote at all; quoted, it may hold : ; , (§3.1).
    value = _CONTROLS.sub("", value).replace('"', "'").replace("\r", " ").replace("\n", " ")
    return f'"{value}"'


def fold(line: str) -> str:
    """A content line folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character;
    each continuation starts with one space, which counts towards its 75."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def format_utc(moment: datetime) -> str:
    """DATE-TIME in UTC ("form #2", §3.3.5): 20260301T180000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def event_uid(event: Event) -> str:
    """Globally unique and stable for the event (§3.8.4.7)."""
    return f"event-{event.pk}@{_site_host()}"


def event_url(event: Event) -> str:
    return settings.SITE_URL + event.get_absolute_url()


def build_event_ics(*, event: Event, now: datetime | None = None) -> str:
    """The calendar file's text: CRLF line endings, folded lines, ending with a CRLF."""
    stamp = now or timezone.now()
    watch = f"Watch: {event_url(event)}"
    description = event.description.strip()
    description = f"{description}\n\n{watch}" if description else watch
    organizer_address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or f"noreply@{_site_host()}"
    # Grows with every edit of the event, so a re-imported copy replaces the old one (§3.8.7.4).
    sequence = max(0, int((event.updated_at - event.created_at).total_seconds()))
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{event_uid(event)}",
        f"DTSTAMP:{format_utc(stamp)}",
        f"DTSTART:{format_utc(event.starts_at)}",
        f"DTEND:{format_utc(event.ends_at)}",
        f"SEQUENCE:{sequence}",
        f"LAST-MODIFIED:{format_utc(event.updated_at)}",
        f"SUMMARY:{escape_text(event.title)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"URL:{event_url(event)}",
        f"LOCATION:{escape_text(event_url(event))}",
        f"ORGANIZER;CN={_param_value(event.campaign.name)}:mailto:{organizer_address}",
        "STATUS:" + ("CANCELLED" if event.status == EventStatus.CANCELLED else "CONFIRMED"),
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)


def ics_filename(event: Event) -> str:
    # The slug is [-a-zA-Z0-9_]: safe in a Content-Disposition header as it is.
    return f"{event.slug}.ics"
