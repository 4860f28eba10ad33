"""Questions over the live room's socket: asked and upvoted by the participant the signed
cookie names (never the socket), answered with an ack or an error frame that says why;
refused sockets, floods and oversized messages count nothing; one upvote per participant
across web processes."""

import asyncio
import json
import time

from asgiref.sync import async_to_sync
from django.test import override_settings

from engagement import services
from engagement.models import Question, QuestionStatus, QuestionVote
from events import selectors as event_selectors
from events.models import CapacityTier, EventStatus, Registration
from liveroom.consumers import CLOSE_FLOOD, CLOSE_FULL, CLOSE_TOO_BIG
from liveroom.hub import close_hub
from tests.engagement.factories import QuestionFactory
from tests.factories import EventFactory
from tests.support.liveroom import (
    Communicator,
    attendee_cookie,
    in_thread,
    open_socket,
    snapshot_where,
    wait_for_viewer_sample,
)

ADA = attendee_cookie("ada-browser")
BOB = attendee_cookie("bob-browser")


async def frame_where(ws: Communicator, predicate, timeout: float = 10) -> dict:
    """Read frames (snapshots, acks, errors) until one satisfies `predicate`."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no frame matched before the deadline"
        frame = json.loads(await ws.receive_text(timeout=left))
        if predicate(frame):
            return frame


def is_type(kind: str):
    return lambda frame: frame.get("type") == kind


def approve(event_id: int, question_id: int) -> None:
    services.moderate_question(
        event_id=event_id, question_id=question_id, action="approve", by_user_id=1
    )


def test_an_attendee_asks_and_upvotes_and_every_page_sees_the_approved_question(live_redis):
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        ada, bob = Communicator(event.slug, cookies=ADA), Communicator(event.slug, cookies=BOB)
        for ws in (ada, bob):
            await ws.connect()
            await ws.receive_text()
        await ada.send_text(json.dumps({"type": "ask", "text": "Rent?", "ref": 3}))
        asked = await frame_where(ada, is_type("ack"))
        await in_thread(approve, event.pk, asked["question"])
        seen = await frame_where(bob, lambda f: "room" in f and f["room"]["questions"])
        await bob.send_text(json.dumps({"type": "upvote", "question": asked["question"]}))
        upvoted = await frame_where(bob, is_type("ack"))
        counted = await frame_where(
            ada, lambda f: "room" in f and [q["votes"] for q in f["room"]["questions"]] == [1]
        )
        await bob.send_text(json.dumps({"type": "upvote", "question": asked["question"]}))
        again = await frame_where(bob, is_type("error"))
        for ws in (ada, bob):
            await ws.disconnect()
        await close_hub()
        return asked, seen, upvoted, counted, again

    asked, seen, upvoted, counted, again = async_to_sync(scenario)()
    question = Question.objects.get()
    assert asked == {"type": "ack", "for": "ask", "question": question.pk, "status": "pending",
                     "ref": 3}  # fmt: skip
    assert seen["room"]["questions"] == [{"id": question.pk, "text": "Rent?", "votes": 0}]
    assert upvoted == {"type": "ack", "for": "upvote", "question": question.pk}
    assert counted["room"]["questions"][0]["votes"] == 1
    assert again["code"] == "already_upvoted"
    assert again["message"] == "You have already upvoted this question."
    assert QuestionVote.objects.count() == 1


def test_a_socket_without_the_attendee_cookie_is_told_to_reload_and_nothing_is_stored(
    live_redis,
):
    event = EventFactory(status=EventStatus.LIVE)
    question = QuestionFactory(event=event, status=QuestionStatus.APPROVED)

    async def scenario():
        ws = Communicator(event.slug, cookies={"pc_attendee": "forged-unsigned"})
        await ws.connect()
        await ws.receive_text()
        await ws.send_text(json.dumps({"type": "ask", "text": "Hello?"}))
        asked = await frame_where(ws, is_type("error"))
        await ws.send_text(json.dumps({"type": "upvote", "question": question.pk}))
        upvoted = await frame_where(ws, is_type("error"))
        await ws.disconnect()
        await close_hub()
        return asked, upvoted

    asked, upvoted = async_to_sync(scenario)()
    assert asked["code"] == upvoted["code"] == "cannot_take_part"
    assert asked["message"] == "Reload the page to take part: this browser has no attendee cookie."
    assert Question.objects.count() == 1
    assert not QuestionVote.objects.exists()


def test_an_event_that_asks_for_registration_takes_questions_from_registered_attendees(
    live_redis,
):
    event = EventFactory(status=EventStatus.LIVE, registration_required=True)
    registration = Registration.objects.create(
        event=event, name="Ada", email="ada@example.org", token="t" * 43
    )
    signed = event_selectors.registration_cookie_signer(event=event).sign(registration.token)
    registered = {**ADA, event_selectors.registration_cookie_name(event=event): signed}

    async def scenario():
        answers = []
        for cookies in (ADA, registered):
            ws = Communicator(event.slug, cookies=cookies)
            await ws.connect()
            await ws.receive_text()
            await ws.send_text(json.dumps({"type": "ask", "text": "May I?"}))
            answers.append(await frame_where(ws, lambda f: f.get("type") in ("ack", "error")))
            await ws.disconnect()
        await close_hub()
        return answers

    unregistered, done = async_to_sync(scenario)()
    assert unregistered["code"] == "cannot_take_part"
    assert unregistered["message"] == "Register for this event to ask questions and vote."
    assert done["for"] == "ask"
    assert Question.objects.count() == 1


def test_a_refused_socket_cannot_ask(live_redis):
    tier = CapacityTier.objects.create(name="solo", max_attendees=1)
    event = EventFactory(status=EventStatus.LIVE, capacity_tier=tier)

    async def scenario():
        inside = Communicator(event.slug, cookies=ADA)
        await inside.connect()
        await inside.receive_text()
        refused = Communicator(event.slug, cookies=BOB)
        await refused.connect()
        closed = await refused.receive_output(5)
        await refused.send_text(json.dumps({"type": "ask", "text": "Let me in?"}))
        quiet = await refused.receive_nothing(0.3)
        await inside.disconnect()
        await close_hub()
        return closed, quiet

    closed, quiet = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": CLOSE_FULL}
    assert quiet is True
    assert not Question.objects.exists()


def test_an_oversized_question_closes_the_socket_and_stores_nothing(live_redis):
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        ws = Communicator(event.slug, cookies=ADA)
        await ws.connect()
        await ws.receive_text()
        await ws.send_text(json.dumps({"type": "ask", "text": "😀" * 600}))
        closed = await ws.receive_output(5)
        await ws.disconnect()
        await close_hub()
        return closed

    closed = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": CLOSE_TOO_BIG}
    assert not Question.objects.exists()


def test_the_longest_question_in_any_script_fits_the_bounds(live_redis):
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        ws = Communicator(event.slug, cookies=ADA)
        await ws.connect()
        await ws.receive_text()
        await ws.send_text(json.dumps({"type": "ask", "text": "😀" * 280}, ensure_ascii=False))
        answer = await frame_where(ws, lambda f: "type" in f)
        await ws.disconnect()
        await close_hub()
        return answer

    assert async_to_sync(scenario)()["for"] == "ask"
    assert Question.objects.get().text == "😀" * 280


def test_a_flood_of_questions_stores_the_allowance_and_closes_the_socket(live_redis):
    event = EventFactory(status=EventStatus.LIVE)

    async def scenario():
        ws = Communicator(event.slug, cookies=ADA)
        await ws.connect()
        await ws.receive_text()
        for n in range(30):
            await ws.send_text(json.dumps({"type": "ask", "text": f"Q{n}"}))
        frames = []
        while True:
            message = await ws.receive_output(10)
            if message["type"] == "websocket.close":
                break
            frames.append(json.loads(message["text"]))
        await ws.disconnect()
        await close_hub()
        return frames, message

    with override_settings(LIVE_INBOUND_PER_SECOND=5):
        frames, closed = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": CLOSE_FLOOD}
    acks = [f for f in frames if f.get("type") == "ack"]
    refusals = {f["code"] for f in frames if f.get("type") == "error"}
    assert len(acks) == 3
    assert refusals == {"rate_limited"}
    assert Question.objects.count() == 3


def test_one_upvote_per_attendee_across_web_processes_and_reconnects(web_processes):
    event = EventFactory(status=EventStatus.LIVE)
    question = QuestionFactory(event=event, status=QuestionStatus.APPROVED)
    first, second = web_processes
    upvote = json.dumps({"type": "upvote", "question": question.pk})

    def upvoted_twice(frame):
        questions = frame.get("room", {}).get("questions")
        return bool(questions) and questions[0]["votes"] == 2

    async def answer(ws):
        return await snapshot_where(ws, lambda f: f.get("type") in ("ack", "error"))

    async def scenario():
        ada_here = await open_socket(first, event.slug, cookies=ADA)
        ada_there = await open_socket(second, event.slug, cookies=ADA)
        bob = await open_socket(second, event.slug, cookies=BOB)
        await ada_here.send(upvote)
        answers = [await answer(ada_here)]
        await ada_there.send(upvote)  # the same attendee on the other process
        answers.append(await answer(ada_there))
        await ada_here.close()
        ada_again = await open_socket(first, event.slug, cookies=ADA)  # a reconnect
        await ada_again.send(upvote)
        answers.append(await answer(ada_again))
        await bob.send(upvote)
        answers.append(await answer(bob))
        seen = await asyncio.gather(*(snapshot_where(ws, upvoted_twice) for ws in (ada_again, bob)))
        for ws in (ada_there, ada_again, bob):
            await ws.close()
        return answers, seen

    answers, seen = asyncio.run(scenario())
    wait_for_viewer_sample(event.pk)
    assert [a.get("code", a["type"]) for a in answers] == [
        "ack", "already_upvoted", "already_upvoted", "ack",
    ]  # fmt: skip
    assert QuestionVote.objects.filter(question=question).count() == 2
    assert all(s["room"]["questions"][0]["votes"] == 2 for s in seen)
