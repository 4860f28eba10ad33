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
import time

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)


def hit(*, scope: str, subject: str, limit: int, window_s: int) -> int | None:
    """Count one attempt by `subject` (an address, an email) in `scope`. None while within
    `limit` attempts per window; else the whole seconds until the window ends (≥ 1). A limit
    of 0 means no limit. A cache that is down counts nothing (the attempt goes through): the
    callers' other defences still hold, and a visitor is never refused by an outage."""
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
        log.warning("rate limit not counted: the cache is unavailable", extra={"scope": scope})
        return None
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * window_s - now))


def is_trusted_proxy(address: str) -> bool:
    """Whether `address` is one of TRUSTED_PROXIES: a request that still shows it as the
    client's came through our proxy without X-Forwarded-For, so the client is unknown."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)
