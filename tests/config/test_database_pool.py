"""The database settings: a connection pool bounded by the budget for PostgreSQL, none for
SQLite; the budget's variables read from the environment and checked loudly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import PoolBudget, database_from_url

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({"pool": db["OPTIONS"].get("pool"), "conn_max_age": db.get("CONN_MAX_AGE"),
                  "budget": settings.DATABASE_CONNECTION_BUDGET}))
"""


def settings_under(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DONATION_"))}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", **env})
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_a_postgres_url_gets_a_pool_and_no_persistent_connections():
    db = database_from_url(
        "postgres://web:pw@db.internal:6432/pledgecast",
        base_dir=ROOT,
        pool=PoolBudget(min_size=1, max_size=18, timeout_s=5),
    )
    assert db["CONN_MAX_AGE"] == 0
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["OPTIONS"] == {
        "pool": {"min_size": 1, "max_size": 18, "timeout": 5, "max_idle": 60.0}
    }
    assert "DISABLE_SERVER_SIDE_CURSORS" not in db


def test_a_sqlite_url_gets_no_pool():
    db = database_from_url(
        "sqlite:///db.sqlite3", base_dir=ROOT, pool=PoolBudget(min_size=1, max_size=18, timeout_s=5)
    )
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert "pool" not in db["OPTIONS"]


def test_behind_pgbouncer_there_are_no_server_side_cursors():
    db = database_from_url(
        "postgres://web@127.0.0.1:6432/pledgecast", base_dir=ROOT, behind_pgbouncer=True
    )
    assert db["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_the_pool_is_the_budget_of_requests_plus_webhook_threads():
    result = settings_under(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/pledgecast",
        DATABASE_POOL_SIZE="6",
        DATABASE_POOL_TIMEOUT="3",
        DONATION_WEBHOOK_THREADS="4",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "pool": {"min_size": 1, "max_size": 10, "timeout": 3, "max_idle": 60.0},
        "conn_max_age": 0,
        "budget": 10,
    }


def test_the_default_budget_is_eighteen_connections_per_process():
    result = settings_under(DATABASE_URL="postgres://postgres@127.0.0.1:5432/pledgecast")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pool"] == {
        "min_size": 1, "max_size": 18, "timeout": 5, "max_idle": 60.0,
    }  # fmt: skip


def test_the_embedded_sqlite_default_has_no_pool():
    result = settings_under()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pool"] is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_POOL_SIZE": "0"}, "DATABASE_POOL_SIZE=0 must be at least 1"),
        ({"DATABASE_POOL_TIMEOUT": "soon"}, "DATABASE_POOL_TIMEOUT='soon' is not a whole number"),
    ],
)
def test_a_bad_pool_setting_stops_the_process(env, message):
    result = settings_under(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_a_pool_budget_is_not_built_for_a_bad_url():
    with pytest.raises(ImproperlyConfigured):
        database_from_url("postgres://127.0.0.1:5432/", base_dir=ROOT, pool=PoolBudget(1, 2, 1))
