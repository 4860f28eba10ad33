"""The hub's database reads and writes, off the event loop (it never calls the ORM itself).

Each runs in a thread with its connection checked before and after, as Django does around
every request (`close_old_connections`): a connection the database dropped (a restart, a
failover) is replaced on the next call instead of failing every call until the process
restarts; with CONN_MAX_AGE=0 the connection goes back to the pool after each call.

Two kinds of call, on different threads, so that one never queues behind the other:
- `in_db_thread`: the hub's own (event facts, snapshot builds, viewer samples), in Django's
  sync thread;
- `in_message_thread`: what clients' messages ask (questions, upvotes, votes), on
  MESSAGE_THREADS threads of their own. A poll's thousands of votes a second wait there, not in
  front of the next snapshot: tally broadcasts go on while a poll fills (bench/engagement.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

T = TypeVar("T")

# Each holds a database connection while it works (within DATABASE_POOL_SIZE).
MESSAGE_THREADS = 2
_messages = ThreadPoolExecutor(max_workers=MESSAGE_THREADS, thread_name_prefix="live-messages")


def _checked(fn: Callable[..., T], kwargs: dict[str, Any]) -> Callable[[], T]:
    def run() -> T:
        close_old_connections()
        try:
            return fn(**kwargs)
        finally:
            close_old_connections()

    return run


async def in_db_thread(fn: Callable[..., T], **kwargs: Any) -> T:
    return await sync_to_async(_checked(fn, kwargs))()


async def in_message_thread(fn: Callable[..., T], **kwargs: Any) -> T:
    return await sync_to_async(_checked(fn, kwargs), thread_sensitive=False, executor=_messages)()
