"""The live room's pub/sub transport: how lower layers say "this event changed".

A small module that imports no app, so `events`, `donations` and `streaming` services can
call it without importing the live room that sits on top of them. Call it from
`transaction.on_commit` so that nobody hears of a change that was rolled back.

What travels is only "what changed for which event": the live room re-reads state through
the selectors and broadcasts whole snapshots, so a lost or duplicated message costs nothing.
"""

from __future__ import annotations

import logging
from typing import Literal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

ChangeKind = Literal["tally", "stream", "status"]


def event_group(event_id: int) -> str:
    return f"event.{event_id}"


def publish_change(*, event_id: int, kind: ChangeKind) -> None:
    """Tell the live room that `kind` changed for the event. Never raises: the change is
    already committed, and a missed notification is healed by the next snapshot."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            event_group(event_id), {"type": "live.changed", "event_id": event_id, "kind": kind}
        )
    except Exception:
        log.exception("live change not published", extra={"event_id": event_id, "kind": kind})
