"""Reads for simulcast: what staff see of each destination (never its key), what a
supervisor should run, and where it reads the program from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from events.models import EventStatus
from streaming import signing
from streaming.models import (
    SimulcastDestination,
    SimulcastState,
    Stream,
    StreamState,
    Transcoder,
)


@dataclass(frozen=True)
class DestinationRow:
    """One destination as staff see it (the admin's inline, the dashboard's show panel)."""

    pk: int
    service: str
    server: str  # the server URL: no key in it
    enabled: bool
    state: str
    state_label: str
    tries: int
    last_error: str
    last_error_at: datetime | None


def destination_rows(*, event_id: int) -> list[DestinationRow]:
    """The event's destinations in the order they were added. One query."""
    return [
        DestinationRow(
            pk=d.pk,
            service=d.get_service_display(),
            server=d.url,
            enabled=d.enabled,
            state=d.state,
            state_label=str(SimulcastState(d.state).label),
            tries=d.tries,
            last_error=d.last_error,
            last_error_at=d.last_error_at,
        )
        for d in SimulcastDestination.objects.filter(event_id=event_id)
    ]


@dataclass(frozen=True)
class Plan:
    """What a supervisor runs for one destination; `version` changes when staff change it."""

    destination_id: int
    event_id: int
    version: int
    server: str
    key_sealed: str


def wanted(*, runner: str) -> dict[int, Plan]:
    """Destinations that should be sent now and that the supervisor named `runner` may run:
    enabled, not failed, their show live; a stream published over RTMP only by the supervisor
    beside its nginx-rtmp (it reads the program from there), any other by whichever
    supervisor holds the lease (services.claim)."""
    rows = (
        SimulcastDestination.objects.filter(enabled=True, event__status=EventStatus.LIVE)
        .exclude(state=SimulcastState.FAILED)
        .values("pk", "event_id", "version", "url", "key_sealed",
                "event__stream__transcoder__publishing",
                "event__stream__transcoder__rtmp_server")
    )  # fmt: skip
    plans = {}
    for row in rows:
        rtmp_elsewhere = (
            row["event__stream__transcoder__publishing"]
            and row["event__stream__transcoder__rtmp_server"] != runner
        )
        if rtmp_elsewhere:
            continue
        plans[row["pk"]] = Plan(
            destination_id=row["pk"], event_id=row["event_id"], version=row["version"],
            server=row["url"], key_sealed=row["key_sealed"],
        )  # fmt: skip
    return plans


@dataclass(frozen=True)
class ProgramSource:
    """Where ffmpeg reads the program: nginx-rtmp (`rtmp`) or the origin's HLS (`hls`)."""

    kind: str
    url: str


def program_source(*, event_id: int, runner: str) -> ProgramSource | None:
    """The program of the event's stream as the supervisor `runner` can read it now, or
    None while there is none: an RTMP publish to this supervisor's nginx-rtmp (played from
    RTMP_PLAY_URL, loopback), else, for a stream receiving pushed or relayed segments, its
    top rendition's live playlist at the origin (SIMULCAST_ORIGIN_URL, under a signed
    prefix: the origin serves it whatever the stream's playback rules)."""
    stream = Stream.objects.filter(event_id=event_id).first()
    if stream is None or stream.state == StreamState.ENDED:
        return None
    publish = Transcoder.objects.filter(stream=stream, publishing=True).first()
    if publish is not None:
        if publish.rtmp_server != runner:
            return None
        return ProgramSource("rtmp", f"{settings.RTMP_PLAY_URL.rstrip('/')}/{stream.public_id}")
    if stream.state != StreamState.LIVE:
        return None
    renditions = [r for r in stream.renditions.all() if r.next_seq > 0 and not r.ended]
    if not renditions:
        return None
    top = max(renditions, key=lambda r: (_bandwidth(r.variant), r.peak_bits_per_second))
    path = signing.playback_path(
        public_id=stream.public_id, path=f"{top.name}/index.m3u8", signed=True
    )
    return ProgramSource("hls", settings.SIMULCAST_ORIGIN_URL + path)


def _bandwidth(variant: dict[str, object]) -> int:
    value = variant.get("BANDWIDTH")
    return int(value) if isinstance(value, str) and value.isdigit() else 0
