"""Fixed-window rate limits in the cache (Redis in production, shared by every process), for
anything a visitor can repeat: starting donations, registering for an event.

What is counted is hashed into the key, so no address or email is kept in the cache as is.
A refusal says how long until the window ends: the `Retry-After` of a 429.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)


def hit(*, scope: str, subject: str, limit: int, window_s: int) -> int | None:
    """Count one attempt by `subject` (an address, an email) in `scope`. None while within
    `limit` attempts per window; else the whole seconds until the window ends (≥ 1). A limit
    of 0 means no limit. While the cache (Redis) is down, this process counts alone (each
    web process then allows the limit: looser, never closed), so giving goes on."""
    if limit <= 0:
        return None
    now = time.time()
    window = int(now // window_s)
    digest = hashlib.blake2b(subject.encode("utf-8", "surrogatepass"), digest_size=12)
    key = f"pc:rate:{scope}:{window}:{digest.hexdigest()}"
    try:
        cache.add(key, 0, timeout=window_s + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window_s + 1)
            count = 1
    except Exception:
        count = _count_locally(key, (window + 1) * window_s)
        _warn_cache_down(scope)
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * window_s - now))


# The per-process fallback: key (its window in it) → (when the window ends, count).
_local: dict[str, tuple[float, int]] = {}
_local_lock = threading.Lock()


def _count_locally(key: str, ends_at: float) -> int:
    with _local_lock:
        now = time.time()
        if len(_local) > 10_000:  # drop the windows that are over
            for stale in [k for k, (end, _) in _local.items() if end <= now]:
                del _local[stale]
        count = _local.get(key, (ends_at, 0))[1] + 1
        _local[key] = (ends_at, count)
        return count


class Throttle:
    """True at most once per `every_s`: a warning while an outage lasts, not one per call.
    Thread-safe (request threads share it)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._last = float("-inf")
        self._lock = threading.Lock()

    def due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.every_s:
                return False
            self._last = now
            return True


_cache_down = Throttle(60)


def _warn_cache_down(scope: str) -> None:
    if _cache_down.due():
        log.warning("rate limits counted per process: the cache is unavailable",
                    extra={"scope": scope})  # fmt: skip


def is_trusted_proxy(address: str) -> bool:
    """Whether `address` is one of TRUSTED_PROXIES: a request that still shows it as the
    client's came through our proxy without X-Forwarded-For, so the client is unknown."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)
