"""What clients say in the live room, after the consumer's bounds (size and rate, which close
the socket): each text frame is one JSON object `{"type": …}`; its handler answers with one
frame, or nothing. A message that is not JSON, not an object, of an unknown type or with bad
fields gets an error frame and changes nothing; the socket stays open.

Frames the live room sends that are not snapshots carry a `type` (snapshots have none):
- `{"type": "error", "code": …, "message": …, "ref": …}`: refused, nothing counted; `message`
  is a sentence for the attendee, `code` a word for the page, `ref` the client's own `ref`
  (a small integer, echoed when it sent one) so the page says it where it was asked.
- `{"type": "ack", "for": <the message's type>, "ref": …, …}`: done.

Messages (each may carry `ref`):
- `{"type": "ask", "text": …}` → ack `{"question": id, "status": "pending" | "approved"}`;
- `{"type": "upvote", "question": id}` → ack `{"question": id}`;
- `{"type": "vote", "poll": id, "option": id}` → ack `{"poll": id, "option": id}`;
- `{"type": "react", "counts": {"heart": 2, …}}` → nothing (counted in memory; every page gets
  the bursts, liveroom/reactions.py).
Asking, upvoting and voting need a participant (the attendee cookie, or the registration
for an event that asks for it): without one the error says why. The engagement app's services
check the rest (lengths, rate limits, one upvote or vote per participant, polls that are
open) in the hub's database thread.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from engagement import polls, reactions
from engagement import services as engagement
from events import ratelimits
from events.jsonbody import json_object
from liveroom import snapshot as snapshots
from liveroom.dbcalls import in_db_thread
from liveroom.outbox import Message

log = logging.getLogger(__name__)

MAX_REF = 2**31
_failures = ratelimits.Throttle(10)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a message: the socket's event and participant (liveroom.attendees), or why it
    may not take part."""

    event_id: int
    participant: str | None
    refusal: str = ""
    # The process's reaction counter (the hub's ReactionRelay.add).
    count_reactions: Callable[[int, dict[str, int]], None] | None = None


class Refusal(Exception):
    """A message refused before it reached a service: `code` for the page, `message` for the
    attendee."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


Reply = dict[str, Any] | None
Handler = Callable[[Sender, dict[str, Any]], Awaitable[Reply]]
HANDLERS: dict[str, Handler] = {}


def frame(body: dict[str, Any]) -> Message:
    return {"type": "websocket.send", "text": snapshots.encode(body)}


def error(code: str, message: str, ref: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        body["ref"] = ref
    return body


async def answer(sender: Sender, text: str | None) -> Message | None:
    """The frame that answers one client message (text, or None for a binary frame)."""
    if text is None:
        return frame(error("bad_message", "Send text frames of JSON."))
    data = json_object(text.encode("utf-8", "surrogatepass"))
    if data is None:
        return frame(error("bad_message", "Send one JSON object per message."))
    raw_ref = data.get("ref")
    ref = raw_ref if type(raw_ref) is int and 0 <= raw_ref < MAX_REF else None
    kind = data.get("type")
    handler = HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        known = ", ".join(sorted(HANDLERS)) or "none"
        return frame(error("unknown_type", f"Unknown message type (known: {known}).", ref))
    try:
        reply = await handler(sender, data)
    except (Refusal, engagement.Refused) as refused:
        return frame(error(refused.code, refused.message, ref))
    except Exception as exc:
        # The database or Redis is away: the client may try again. One traceback per interval,
        # not one per message of every viewer.
        if _failures.due():
            log.warning("live room message failed", extra={"event_id": sender.event_id},
                        exc_info=exc)  # fmt: skip
        return frame(error("unavailable", "That did not go through: please try again.", ref))
    if reply is None:
        return None
    if ref is not None:
        reply["ref"] = ref
    return frame(reply)


# --- Handlers ----------------------------------------------------------------------------------


def _participant(sender: Sender) -> str:
    if sender.participant is None:
        raise Refusal("cannot_take_part", sender.refusal)
    return sender.participant


def _id(data: dict[str, Any], field: str) -> int:
    value = data.get(field)
    if type(value) is not int or not 0 < value < MAX_REF:
        raise Refusal("bad_message", f"“{field}” must be the id (a positive whole number).")
    return value


async def ask(sender: Sender, data: dict[str, Any]) -> Reply:
    text = data.get("text")
    if not isinstance(text, str):
        raise Refusal("bad_message", "A question needs its “text”.")
    asked = await in_db_thread(
        engagement.ask_question,
        event_id=sender.event_id,
        asker=_participant(sender),
        text=text,
    )
    return {"type": "ack", "for": "ask", "question": asked.question_id, "status": asked.status}


async def upvote(sender: Sender, data: dict[str, Any]) -> Reply:
    question_id = _id(data, "question")
    await in_db_thread(
        engagement.upvote_question,
        event_id=sender.event_id,
        question_id=question_id,
        voter=_participant(sender),
    )
    return {"type": "ack", "for": "upvote", "question": question_id}


async def vote(sender: Sender, data: dict[str, Any]) -> Reply:
    poll_id, option_id = _id(data, "poll"), _id(data, "option")
    await in_db_thread(
        polls.cast_vote,
        event_id=sender.event_id,
        poll_id=poll_id,
        option_id=option_id,
        voter=_participant(sender),
    )
    return {"type": "ack", "for": "vote", "poll": poll_id, "option": option_id}


async def react(sender: Sender, data: dict[str, Any]) -> Reply:
    _participant(sender)
    counts = reactions.check_counts(data.get("counts"))
    if sender.count_reactions is not None:
        sender.count_reactions(sender.event_id, counts)
    return None


HANDLERS.update(ask=ask, upvote=upvote, vote=vote, react=react)
