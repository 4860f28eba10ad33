"""Small, loud parsers for settings read from the environment.

Each returns a typed value or raises ImproperlyConfigured naming the variable, so a typo in a
deployment stops the process at start instead of running with a silently wrong setting.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated networks in CIDR form (`10.0.0.0/8, fd00::/8`; a bare address is one
    host); empty by default. A typo or host bits set (`10.0.0.1/8`) stop the process."""
    networks = []
    for item in os.environ.get(name, "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=True))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}: {item.strip()!r} is not a network in CIDR form such as 10.0.0.0/8 ({exc})"
            ) from None
    return networks


@dataclass(frozen=True)
class PoolBudget:
    """The PostgreSQL connection pool of one process (psycopg_pool through Django 5.2).

    `max_size` is the hard cap on the process's connections: a thread that wants one more waits
    up to `timeout_s` for one to come back, then gets PoolTimeout (config/errors.py: a 503).
    `max_idle_s`: connections above `min_size` idle this long are closed, so a spike's
    connections do not stay open after it."""

    min_size: int
    max_size: int
    timeout_s: float
    max_idle_s: float = 60.0

    def options(self) -> dict[str, Any]:
        return {
            "min_size": self.min_size,
            "max_size": self.max_size,
            "timeout": self.timeout_s,
            "max_idle": self.max_idle_s,
        }


def database_from_url(
    url: str,
    *,
    base_dir: Path,
    pool: PoolBudget | None = None,
    behind_pgbouncer: bool = False,
) -> dict[str, Any]:
    """Django DATABASES entry from `postgres://user:pass@host:port/name` or `sqlite:///path`.

    For PostgreSQL with `pool`, connections come from a per-process pool (CONN_MAX_AGE 0, as
    Django requires: a request's connection goes back to the pool when it ends). SQLite has no
    pool; `pool` is ignored there. `behind_pgbouncer`: no server-side cursors (PgBouncer in
    transaction mode cannot keep one across transactions)."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "sqlite":
        # sqlite:///relative.db or sqlite:////absolute/path.db
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ImproperlyConfigured("DATABASE_URL for sqlite needs a file path")
        file = Path(path) if Path(path).is_absolute() else base_dir / path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(file),
            # The embedded default has several writers (web, stream worker, encoders' PUTs):
            # a transaction takes the write lock when it begins, so a second one waits for it
            # (up to the timeout) instead of failing "database is locked" when it upgrades.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL",  # readers never wait for the writer
            },
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL for postgres needs a database name")
        options: dict[str, Any] = {}
        for key, values in parse_qs(parts.query).items():
            options[key] = values[-1]
        db: dict[str, Any] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # Without a pool, short-lived connections are reused across requests of one thread
            # (under ASGI each sync request runs on a new thread: use the pool there).
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
        if pool is not None:
            db["CONN_MAX_AGE"] = 0
            # With a pool, Django has the pool check each connection when it is taken (one
            # round trip): after a database restart a dead one never fails a request.
            options["pool"] = pool.options()
        if behind_pgbouncer:
            db["DISABLE_SERVER_SIDE_CURSORS"] = True
        return db
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {scheme!r} is not supported: use postgres:// or sqlite:///"
    )


def check_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"REDIS_URL scheme {parts.scheme!r} is not supported: use redis:// or rediss://"
        )
    return url


def redis_dependent_settings(redis_url: str, *, pool_size: int) -> dict[str, Any]:
    """Channel layer, cache and Celery settings for a Redis URL, or embedded ones for ''.

    One function so the settings module and the tests agree on what REDIS_URL switches.
    """
    if not redis_url:
        return {
            "CHANNEL_LAYERS": {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
            "CACHES": {
                "default": {
                    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                    "LOCATION": "pledgecast",
                }
            },
            "CELERY_BROKER_URL": "memory://",
            "CELERY_TASK_ALWAYS_EAGER": True,
        }
    check_redis_url(redis_url)
    return {
        "CHANNEL_LAYERS": {
            "default": {
                # The pub/sub layer: one subscription per process, no per-message polling.
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [{"address": redis_url, "max_connections": pool_size}]},
            }
        },
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                "OPTIONS": {"max_connections": pool_size},
                "KEY_PREFIX": "pc",
            }
        },
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": False,
    }
