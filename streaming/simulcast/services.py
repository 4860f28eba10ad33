"""Writes for simulcast destinations: staff's changes, and what the supervisor reports.

Staff's changes lock the event's row (one writer of an event's destinations at a time, so
the limit of MAX_DESTINATIONS holds under concurrent saves) and bump the destination's
`version`: a copy running with older settings restarts. The key is sealed before it is
stored (keybox) and appears in no log line, no message and no return value.

The supervisor's reports (`record_*`) change a destination only while its lease is the
reporter's (`runner`): a copy that was stopped cannot overwrite what its successor says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events import outbound
from events.models import Event
from streaming.models import SimulcastDestination, SimulcastService, SimulcastState
from streaming.simulcast import keybox

log = logging.getLogger(__name__)

MAX_DESTINATIONS = 5
MAX_KEY_LENGTH = 500
LEASE_SECONDS = 10

# The services' RTMPS ingest (their documented server URLs; the stream key goes after them).
PRESET_URLS = {
    SimulcastService.YOUTUBE: "rtmps://a.rtmps.youtube.com/live2",
    SimulcastService.FACEBOOK: "rtmps://live-api-s.facebook.com:443/rtmp",
    SimulcastService.TWITCH: "rtmps://live.twitch.tv/app",
}


@dataclass(frozen=True)
class DestinationChange:
    """What staff typed. `key` None: keep the stored one (the "replace key" field left
    empty)."""

    service: str
    url: str
    enabled: bool
    key: str | None = None


def destination_url(*, service: str, url: str) -> str:
    """The server URL a destination publishes to: what staff typed, else its preset's."""
    return url.strip() or PRESET_URLS.get(SimulcastService(service), "")


def check_destination(*, service: str, url: str) -> str:
    """The server URL to store, or ValidationError with a message for staff: rtmp:// or
    rtmps:// only, no query or credentials, a host that resolves only to public addresses
    (events.outbound: OUTBOUND_ALLOWED_NETWORKS lists an operator's exceptions). Resolves
    DNS: call it outside transactions. The runner checks again before every connection."""
    if service not in SimulcastService.values:
        raise ValidationError("Choose YouTube, Facebook, Twitch or another server.", code="service")
    full = destination_url(service=service, url=url)
    if not full:
        raise ValidationError(
            "Type the server's URL (rtmp://… or rtmps://…), as the platform gives it.", code="url"
        )
    if len(full) > 500:
        raise ValidationError("The server URL is longer than 500 characters.", code="url")
    parts = urlsplit(full)
    if parts.scheme.lower() not in outbound.STREAM_PORTS:
        raise ValidationError(
            f"A destination must be an rtmp:// or rtmps:// URL, not {full[:80]}.", code="url"
        )
    if parts.query or parts.fragment:
        raise ValidationError(
            "Put the stream key in its own field, not in the server URL.", code="url"
        )
    try:
        outbound.check_stream_destination(full)
    except outbound.OutboundError as exc:
        raise ValidationError(f"This server cannot be streamed to: {exc}.", code="url") from None
    return full


def check_key(key: str) -> str:
    """The stream key as stored, or ValidationError: one line of printable characters."""
    key = key.strip()
    if not key:
        raise ValidationError("The stream key is required.", code="key")
    if len(key) > MAX_KEY_LENGTH or any(ord(c) < 33 or ord(c) == 127 for c in key):
        raise ValidationError(
            "A stream key is one word of printable characters (no spaces), as the platform "
            "shows it.",
            code="key",
        )
    return key


def _count_check(event_id: int, *, adding: int) -> None:
    count = SimulcastDestination.objects.filter(event_id=event_id).count()
    if count + adding > MAX_DESTINATIONS:
        raise ValidationError(
            f"An event streams to at most {MAX_DESTINATIONS} destinations; remove one first.",
            code="too_many",
        )


def add_destination(*, event_id: int, change: DestinationChange) -> SimulcastDestination:
    """A new destination for the event (started at once if the show is live and it is
    enabled). Raises ValidationError: a bad URL or key, or a sixth destination."""
    url = check_destination(service=change.service, url=change.url)
    key = check_key(change.key or "")
    with transaction.atomic():
        Event.objects.select_for_update().only("pk").get(pk=event_id)
        _count_check(event_id, adding=1)
        destination = SimulcastDestination.objects.create(
            event_id=event_id, service=change.service, url=url, key_sealed=keybox.seal(key),
            enabled=change.enabled,
        )  # fmt: skip
    log.info("simulcast destination added",
             extra={"event_id": event_id, "destination_id": destination.pk})  # fmt: skip
    return destination


def update_destination(*, destination_id: int, change: DestinationChange) -> SimulcastDestination:
    """Staff's edit: the service, URL, on/off and (when given) a new key. A running copy
    restarts with them; a failed one is tried again. Raises ValidationError."""
    url = check_destination(service=change.service, url=change.url)
    key = check_key(change.key) if change.key is not None else None
    with transaction.atomic():
        current = SimulcastDestination.objects.only("event_id").get(pk=destination_id)
        Event.objects.select_for_update().only("pk").get(pk=current.event_id)
        destination = SimulcastDestination.objects.select_for_update().get(pk=destination_id)
        destination.service, destination.url, destination.enabled = (
            change.service, url, change.enabled,
        )  # fmt: skip
        if key is not None:
            destination.key_sealed = keybox.seal(key)
        destination.version += 1
        if destination.state == SimulcastState.FAILED:
            destination.state, destination.tries = SimulcastState.STOPPED, 0
        destination.save()
    log.info("simulcast destination changed",
             extra={"destination_id": destination_id, "enabled": change.enabled,
                    "key_replaced": key is not None})  # fmt: skip
    return destination


@transaction.atomic
def remove_destination(*, destination_id: int) -> None:
    """Delete it; its copy stops within a supervisor round."""
    SimulcastDestination.objects.filter(pk=destination_id).delete()
    log.info("simulcast destination removed", extra={"destination_id": destination_id})


@transaction.atomic
def reset_for_show(*, event_id: int) -> int:
    """The show goes live (or resumes): destinations that failed get their tries back.
    Returns how many were reset."""
    return SimulcastDestination.objects.filter(
        event_id=event_id, state=SimulcastState.FAILED
    ).update(state=SimulcastState.STOPPED, tries=0)


# --- the supervisor's side ----------------------------------------------------------------------


def claim(*, destination_id: int, runner: str, now: datetime | None = None) -> bool:
    """Take (or renew) the lease of a destination for `runner` (a supervisor's
    RTMP_SERVER_NAME): True if it is ours now, False if another supervisor holds it."""
    now = now or timezone.now()
    free = Q(runner="") | Q(runner=runner) | Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    taken = (
        SimulcastDestination.objects.filter(pk=destination_id)
        .filter(free)
        .update(runner=runner, lease_until=now + timedelta(seconds=LEASE_SECONDS))
    )
    return bool(taken)


def _report(destination_id: int, runner: str, **fields: object) -> bool:
    changed = SimulcastDestination.objects.filter(pk=destination_id, runner=runner).update(**fields)
    return bool(changed)


def record_connecting(*, destination_id: int, runner: str, pid: int | None) -> None:
    _report(destination_id, runner, state=SimulcastState.CONNECTING, pid=pid, live_since=None)


def record_live(*, destination_id: int, runner: str) -> None:
    if _report(destination_id, runner, state=SimulcastState.LIVE, live_since=timezone.now()):
        log.info("simulcast live", extra={"destination_id": destination_id})


def record_failure(*, destination_id: int, runner: str, error: str, tries: int,
                   failed: bool) -> None:  # fmt: skip
    """A try failed: `error` has no key in it (the runner redacts ffmpeg's words)."""
    state = SimulcastState.FAILED if failed else SimulcastState.RETRYING
    _report(
        destination_id, runner, state=state, tries=tries, pid=None, live_since=None,
        last_error=error[:500], last_error_at=timezone.now(),
    )  # fmt: skip
    log.warning(
        "simulcast try failed",
        extra={"destination_id": destination_id, "tries": tries, "failed": failed},
    )


def record_stopped(*, destination_id: int, runner: str) -> None:
    """The copy stopped (the show ended, staff turned it off or changed it): the lease is
    released. A failed destination stays failed."""
    SimulcastDestination.objects.filter(pk=destination_id, runner=runner).exclude(
        state=SimulcastState.FAILED
    ).update(state=SimulcastState.STOPPED, live_since=None)
    SimulcastDestination.objects.filter(pk=destination_id, runner=runner).update(
        runner="", lease_until=None, pid=None
    )
