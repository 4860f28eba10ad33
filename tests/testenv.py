"""Loaded by pytest before Django (`-p tests.testenv` in pyproject): tests always run against
the real PostgreSQL and Redis on this machine unless the environment names others."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pledgecast")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "0")
# Pages rendered in this process link plain static names (no collectstatic manifest needed);
# the web processes the tests start serve production's hashed ones (tests/support/processes.py).
os.environ.setdefault("STATIC_HASHED", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")


def _split_for_xdist_worker() -> None:
    """Under pytest-xdist (`make test` runs two workers), each worker process gets its own
    share of what one run owns: its slice of PC_TEST_PORTS and its own Redis database (the
    next index up per worker); pytest-django gives each its own test database (`_gw<N>`)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    index = int(worker[2:])
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    first, _, last = os.environ.get("PC_TEST_PORTS", "18200-19799").partition("-")
    size = (int(last) - int(first) + 1) // count
    start = int(first) + index * size
    os.environ["PC_TEST_PORTS"] = f"{start}-{start + size - 1}"
    url = os.environ["REDIS_URL"]
    base, _, db = url.rpartition("/")
    if db.isdigit() and base.startswith("redis"):
        os.environ["REDIS_URL"] = f"{base}/{int(db) + index}"


_split_for_xdist_worker()
