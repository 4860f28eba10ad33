"""events.ratelimits: fixed windows in the shared cache, and this process's own count while
the cache is away (looser, never closed)."""

from __future__ import annotations

import pytest

from events import ratelimits


def test_attempts_past_the_limit_are_refused_with_the_seconds_left(db):
    answers = [
        ratelimits.hit(scope="t", subject="ada@example.org", limit=2, window_s=600)
        for _ in range(3)
    ]
    assert answers[:2] == [None, None]
    assert 0 < answers[2] <= 600


def test_without_the_cache_this_process_counts_alone(settings):
    # A cache that refuses every call: Redis away.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    from django.core.cache import caches

    caches.close_all()
    try:
        answers = [
            ratelimits.hit(scope="outage", subject="10.0.0.7", limit=3, window_s=600)
            for _ in range(5)
        ]
    finally:
        caches.close_all()
    assert answers[:3] == [None, None, None]
    assert all(isinstance(wait, int) and wait > 0 for wait in answers[3:])


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_of_zero_is_no_limit(db, limit):
    assert ratelimits.hit(scope="t", subject="x", limit=limit, window_s=60) is None
