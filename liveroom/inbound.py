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
open) on the message threads (liveroom/dbcalls.py), never in front of the hub's snapshots.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from engagement import polls, reactions
from engagement import services as engagement
from events import livebus, ratelimits
from events.jsonbody import json_object
from liveroom import snapshot as snapshots
from liveroom.dbcalls import in_message_thread
from liveroom.outbox import Message

log = logging.getLogger(__name__)

T = TypeVar("T")
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
    # Tells the room of a change a message made, coalesced (the hub's tell_soon); without
    # it, the service tells the room itself.
    tell_room: Callable[[int, str], None] | None = None


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


async def in_service(sender: Sender, fn: Callable[..., T], **kwargs: Any) -> T:
    """`fn(**kwargs)` on the message threads; the changes it tells the room of (on commit) go
    to the hub, which tells every process of them a few times a second at most, whatever the
    number of messages."""
    if sender.tell_room is None:
        return await in_message_thread(fn, **kwargs)
    changes: set[tuple[int, str]] = set()

    def deferred(**kw: Any) -> T:
        with livebus.deferred_changes(changes):
            return fn(**kw)

    try:
        return await in_message_thread(deferred, **kwargs)
    finally:
        for event_id, kind in changes:
            sender.tell_room(event_id, kind)


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
    asked = await in_service(
        sender,
        engagement.ask_question,
        event_id=sender.event_id,
        asker=_participant(sender),
        text=text,
    )
    return {"type": "ack", "for": "ask", "question": asked.question_id, "status": asked.status}


async def upvote(sender: Sender, data: dict[str, Any]) -> Reply:
    question_id = _id(data, "question")
    await in_service(
        sender,
        engagement.upvote_question,
        event_id=sender.event_id,
        question_id=question_id,
        voter=_participant(sender),
    )
    return {"type": "ack", "for": "upvote", "question": question_id}


async def vote(sender: Sender, data: dict[str, Any]) -> Reply:
    poll_id, option_id = _id(data, "poll"), _id(data, "option")
    voter = _participant(sender)
    batches = _vote_batches.get(asyncio.get_running_loop())
    if batches is None:
        batches = _vote_batches[asyncio.get_running_loop()] = VoteBatches()
    await batches.cast(sender, poll_id, option_id, voter)
    return {"type": "ack", "for": "vote", "poll": poll_id, "option": option_id}


Ballot = tuple[str, int, "asyncio.Future[engagement.Refused | None]"]
MAX_BALLOTS = 500


class VoteBatches:
    """A poll's votes that arrive together go to the database together (`polls.cast_votes`: one
    transaction, one insert): while one batch of a poll is in the database, the votes that
    come meanwhile wait for the next. So a poll's thousand votes a second cost a few database
    round trips and thread hops a second, not a thousand (each hop costs the event loop the
    GIL, and with it the snapshots' fan-out); a lone vote goes at once."""

    def __init__(self) -> None:
        self.waiting: dict[tuple[int, int], list[Ballot]] = {}
        self.running: dict[tuple[int, int], asyncio.Task[None]] = {}

    async def cast(self, sender: Sender, poll_id: int, option_id: int, voter: str) -> None:
        key = (sender.event_id, poll_id)
        answer: asyncio.Future[engagement.Refused | None] = (
            asyncio.get_running_loop().create_future()
        )
        self.waiting.setdefault(key, []).append((voter, option_id, answer))
        if key not in self.running:
            self.running[key] = asyncio.ensure_future(self._run(sender, key))
        refused = await answer
        if refused is not None:
            raise refused

    async def _run(self, sender: Sender, key: tuple[int, int]) -> None:
        try:
            while batch := self.waiting.pop(key, None):
                if len(batch) > MAX_BALLOTS:
                    batch, self.waiting[key] = batch[:MAX_BALLOTS], batch[MAX_BALLOTS:]
                await self._cast(sender, key, batch)
        finally:
            del self.running[key]

    async def _cast(self, sender: Sender, key: tuple[int, int], batch: list[Ballot]) -> None:
        event_id, poll_id = key
        try:
            answers = await in_service(
                sender,
                polls.cast_votes,
                event_id=event_id,
                poll_id=poll_id,
                ballots=[(voter, option_id) for voter, option_id, _ in batch],
            )
        except engagement.Refused as refused:  # for every ballot: the poll, the show
            answers = [engagement.Refused(refused.code, refused.message) for _ in batch]
        except Exception as exc:
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        for (_, _, answer), refused_or_none in zip(batch, answers, strict=True):
            if not answer.done():  # its socket may have gone meanwhile
                answer.set_result(refused_or_none)


_vote_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, VoteBatches] = (
    weakref.WeakKeyDictionary()
)


async def react(sender: Sender, data: dict[str, Any]) -> Reply:
    _participant(sender)
    counts = reactions.check_counts(data.get("counts"))
    if sender.count_reactions is not None:
        sender.count_reactions(sender.event_id, counts)
    return None


HANDLERS.update(ask=ask, upvote=upvote, vote=vote, react=react)
