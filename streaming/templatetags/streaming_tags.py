"""`{% stream_player event %}`: the event page's video, from streaming.selectors."""

from __future__ import annotations

from typing import Any

from django import template

from streaming import selectors

register = template.Library()


@register.inclusion_tag("streaming/player.html")
def stream_player(event: Any) -> dict[str, Any]:
    return {"stream": selectors.event_stream_state(event_id=event.pk)}
