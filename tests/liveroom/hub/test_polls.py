"""Votes over the live room's socket: one per participant while the poll is open, answered
with an ack or an error frame that says why; every page's snapshot carries the counts."""

import json

from asgiref.sync import async_to_sync

from engagement import polls
from engagement.models import PollVote
from events.models import EventStatus
from liveroom.hub import close_hub
from tests.engagement.factories import open_poll
from tests.factories import EventFactory
from tests.liveroom.hub.test_questions import ADA, BOB, frame_where
from tests.support.liveroom import Communicator, attendee_cookie, in_thread


def answered(frame: dict) -> bool:
    return frame.get("type") in ("ack", "error")


def test_attendees_vote_once_while_the_poll_is_open_and_see_the_counts(live_redis):
    event = EventFactory(status=EventStatus.LIVE)
    poll = open_poll(event, options=("Rent", "Jobs"))
    rent, jobs = poll.options.values_list("pk", flat=True)

    def close():
        polls.run_poll(event_id=event.pk, poll_id=poll.pk, action="close", by_user_id=1)

    async def scenario():
        ada, bob = Communicator(event.slug, cookies=ADA), Communicator(event.slug, cookies=BOB)
        for ws in (ada, bob):
            await ws.connect()
            await ws.receive_text()
        answers = []
        for ws, message in [
            (ada, {"type": "vote", "poll": poll.pk, "option": rent}),
            (ada, {"type": "vote", "poll": poll.pk, "option": jobs}),  # a second vote
            (bob, {"type": "vote", "poll": poll.pk, "option": "jobs"}),  # not an id
            (bob, {"type": "vote", "poll": poll.pk, "option": jobs}),
        ]:
            await ws.send_text(json.dumps(message))
            answers.append(await frame_where(ws, answered))
        counted = await frame_where(
            ada, lambda f: "room" in f and f["room"]["poll"] and f["room"]["poll"]["total"] == 2
        )
        await in_thread(close)
        await frame_where(bob, lambda f: "room" in f and f["room"]["poll"]["status"] == "closed")
        await bob.send_text(json.dumps({"type": "vote", "poll": poll.pk, "option": rent}))
        answers.append(await frame_where(bob, answered))
        for ws in (ada, bob):
            await ws.disconnect()
        await close_hub()
        return answers, counted

    answers, counted = async_to_sync(scenario)()
    assert answers[0] == {"type": "ack", "for": "vote", "poll": poll.pk, "option": rent}
    assert [a.get("code") for a in answers[1:]] == [
        "already_voted", "bad_message", None, "poll_closed",
    ]  # fmt: skip
    assert answers[2]["message"] == "“option” must be the id (a positive whole number)."
    assert [o["votes"] for o in counted["room"]["poll"]["options"]] == [1, 1]
    assert sorted(PollVote.objects.values_list("option_id", flat=True)) == sorted([rent, jobs])


def test_votes_sent_together_are_each_answered_and_counted_once(live_redis):
    """Votes that reach the room together are cast together (liveroom.inbound.VoteBatches):
    every one still gets its own answer, and two sockets of one attendee count once."""
    event = EventFactory(status=EventStatus.LIVE)
    poll = open_poll(event, options=("Rent", "Jobs"))
    rent, jobs = poll.options.values_list("pk", flat=True)
    cookies = [attendee_cookie(f"browser-{n}") for n in range(10)]

    async def scenario():
        sockets = [Communicator(event.slug, cookies=c) for c in [*cookies, cookies[0]]]
        for ws in sockets:
            await ws.connect()
            await ws.receive_text()
        for n, ws in enumerate(sockets):  # all sent before any answer is read
            option = rent if n % 2 else jobs
            await ws.send_text(json.dumps({"type": "vote", "poll": poll.pk, "option": option}))
        answers = [await frame_where(ws, answered) for ws in sockets]
        for ws in sockets:
            await ws.disconnect()
        await close_hub()
        return answers

    answers = async_to_sync(scenario)()
    # The first browser's two sockets: one vote counted, the other refused.
    assert sorted(a["type"] for a in (answers[0], answers[10])) == ["ack", "error"]
    assert {a.get("code") for a in (answers[0], answers[10])} == {None, "already_voted"}
    assert [a["type"] for a in answers[1:10]] == ["ack"] * 9
    assert PollVote.objects.filter(poll=poll).count() == 10
