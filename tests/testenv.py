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
