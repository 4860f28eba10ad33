"""The hub's database reads and writes, off the event loop (it never calls the ORM itself).

Each runs in Django's sync thread with its connection checked before and after, as Django
does around every request (`close_old_connections`): a connection the database dropped (a
restart, a failover) is replaced on the next call instead of failing every call until the
process restarts; with CONN_MAX_AGE=0 the connection goes back to the pool after each call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

T = TypeVar("T")


async def in_db_thread(fn: Callable[..., T], **kwargs: Any) -> T:
    def run() -> T:
        close_old_connections()
        try:
            return fn(**kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(run)()
