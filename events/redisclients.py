"""The one place a web process builds its Redis clients: the live room's hub, the transport
(`events.livebus`), the ingest key cache and the health probe all take theirs from here.

It imports no module of ours (the transport below everything may use it), and reads only
`REDIS_URL` and the pool settings. Celery, the cache and the channel layer build their own
from the same settings (config/settings.py). Callers check `configured()` first: without
`REDIS_URL` (the embedded default) there is no Redis, and asking for a client is an error.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

# Short timeouts: a Redis that stopped answering must fail a call in seconds, not hang a
# request thread or the event loop (callers degrade: see each caller's docstring).
CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 2.0
# After a Redis restart every pooled connection is dead: a connection idle this long is
# pinged before use, and a call that meets a dead one reconnects and retries once (a Redis
# that is really down costs one quick retry), so a restart costs no snapshot and no request.
HEALTH_CHECK_S = 5


RETRY_ON: list[type[Exception]] = [redis.ConnectionError, redis.TimeoutError]


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=0.05, cap=0.5)


_sync: redis.Redis | None = None
_sync_lock = threading.Lock()
# One asyncio client per event loop: a client's connections belong to the loop that made
# them. Keyed by the loop itself, not its id (a new loop may get a dead one's id); weakly, so
# nothing here keeps a loop alive. A web process runs one loop for its whole life.
_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)
_per_loop_lock = threading.Lock()


def configured() -> bool:
    """Whether this deployment has Redis (REDIS_URL set)."""
    return bool(settings.REDIS_URL)


def _url() -> str:
    if not settings.REDIS_URL:
        raise ImproperlyConfigured("REDIS_URL is not set: this process has no Redis")
    return str(settings.REDIS_URL)


def sync_client() -> redis.Redis:
    """The process's synchronous client (thread-safe, pooled up to LIVE_REDIS_POOL_SIZE
    connections), for request threads and workers. Raises ImproperlyConfigured without Redis."""
    global _sync
    with _sync_lock:
        if _sync is None:
            _sync = redis.Redis.from_url(
                _url(),
                max_connections=settings.LIVE_REDIS_POOL_SIZE,
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=SOCKET_TIMEOUT_S,
                health_check_interval=HEALTH_CHECK_S,
                retry=Retry(_backoff(), retries=1),
                retry_on_error=RETRY_ON,
            )
        return _sync


def loop_client() -> aioredis.Redis:
    """The running event loop's asyncio client, for quick reads on the loop (the ingest's key
    cache). Must be called inside a running loop; raises ImproperlyConfigured without Redis."""
    loop = asyncio.get_running_loop()
    with _per_loop_lock:
        client = _per_loop.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(
                _url(),
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=SOCKET_TIMEOUT_S,
                health_check_interval=HEALTH_CHECK_S,
                retry=AsyncRetry(_backoff(), retries=1),
                retry_on_error=RETRY_ON,
            )
            _per_loop[loop] = client
        return client


def hub_client(*, pool_size: int) -> aioredis.Redis:
    """A new asyncio client on a blocking pool of `pool_size` connections, owned by the
    caller (the live room's hub), who closes it with `aclose(close_connection_pool=True)`.

    Blocking: a burst of thousands of WebSocket connects waits (up to 10 s) for a connection
    rather than failing with "Too many connections". No socket timeout: the hub's pub/sub
    subscription waits for messages for as long as the process lives. Named `pc-live-<pid>`
    so an operator (or a test) can tell this process's connections apart."""
    pool = aioredis.BlockingConnectionPool.from_url(
        _url(),
        max_connections=pool_size,
        timeout=10,
        socket_connect_timeout=5,
        client_name=f"pc-live-{os.getpid()}",
        health_check_interval=HEALTH_CHECK_S,
    )
    return aioredis.Redis(
        connection_pool=pool,
        decode_responses=False,
        retry=AsyncRetry(_backoff(), retries=1),
        retry_on_error=RETRY_ON,
    )


def probe_client(*, timeout_s: float) -> redis.Redis:
    """A new, single-use synchronous client with `timeout_s` on connect and reads, for a
    health probe that must see a new connection succeed. The caller closes it."""
    return redis.Redis.from_url(_url(), socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
