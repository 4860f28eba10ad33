"""Admission leases in Redis (the Lua script every web process reports through)."""

import asyncio
import itertools

from liveroom.backend import RedisBackend

_event_ids = itertools.count(900_000_001)  # ids no test event reaches


def reports(calls):
    """Run (pid, count, need, capacity) reports in order; return the (lease, total) of each."""
    event_id = next(_event_ids)

    async def scenario():
        backend = RedisBackend(pool_size=4)
        try:
            return [
                await backend.report(
                    event_id, pid=pid, count=count, need=need, capacity=cap, ttl_ms=5_000
                )
                for pid, count, need, cap in calls
            ]
        finally:
            await backend.close()

    return asyncio.run(scenario())


def test_a_process_takes_the_slot_it_needs_plus_spares_of_at_most_half_a_percent(live_redis):
    assert reports([("a", 0, 1, 10_000)]) == [(1 + 50, 0)]


def test_spares_shrink_to_an_eighth_of_what_is_free_as_the_event_fills(live_redis):
    # 1,000 seats. "a" has 985 viewers and needs 1: 14 stay free, so 1 spare (14 // 8), not 5.
    # "b" needs 1 of the 13 left: 12 stay free, 1 spare. Each sees the other's viewers.
    assert reports([("a", 985, 1, 1_000), ("b", 0, 1, 1_000)]) == [(987, 985), (2, 985)]


def test_the_leases_of_all_processes_never_exceed_the_capacity(live_redis):
    results = reports([("a", 9, 1, 10), ("b", 0, 1, 10), ("b", 1, 1, 10)])
    # "a" holds 10 (9 + the one it needs): nothing is left for "b".
    assert [lease for lease, _ in results] == [10, 0, 0]


def test_a_process_without_viewers_gives_its_whole_lease_back(live_redis):
    results = reports([("a", 0, 1, 10_000), ("a", 0, 0, 10_000), ("b", 0, 1, 200)])
    assert results == [(51, 0), (0, 0), (2, 0)]
