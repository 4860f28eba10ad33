"""Reactions: five known emoji, a few of each per message; counted per event and minute in
Redis (in this process without it), never in the database."""

import time

import pytest

from engagement import reactions
from engagement.services import Refused


@pytest.mark.parametrize(
    "raw",
    [None, [], {}, {"heart": 0}, {"heart": 11}, {"heart": 1.5}, {"heart": True}, {"poop": 1}],
)
def test_a_bad_reaction_message_is_refused(raw):
    with pytest.raises(Refused) as refused:
        reactions.check_counts(raw)
    assert refused.value.code == "bad_message"


def test_known_reactions_pass_as_they_are():
    assert reactions.check_counts({"heart": 10, "clap": 1}) == {"heart": 10, "clap": 1}


def test_the_last_minutes_reactions_are_read_back_from_redis(live_redis):
    now = time.time()
    minute = reactions.minute_of(now)
    pipe = live_redis.pipeline()
    for at, counts in ((minute, {"heart": 3}), (minute - 1, {"heart": 1, "fire": 2})):
        reactions.add_count_commands(pipe, event_id=9001, counts=counts, minute=at)
    reactions.add_count_commands(pipe, event_id=9001, counts={"clap": 5}, minute=minute - 5)
    pipe.execute()
    assert reactions.recent_reactions(event_id=9001, minutes=5, now_s=now) == {
        "heart": 4, "fire": 2,
    }  # fmt: skip
    assert 0 < live_redis.ttl(reactions.minute_key(9001, minute)) <= reactions.MINUTE_TTL_S


def test_without_redis_the_counts_stay_in_this_process(settings):
    # No database fixture: a query here would fail the test.
    settings.REDIS_URL = ""
    now = time.time()
    reactions.count_locally(event_id=9002, counts={"tada": 2}, minute=reactions.minute_of(now))
    assert reactions.recent_reactions(event_id=9002, minutes=1, now_s=now) == {"tada": 2}
