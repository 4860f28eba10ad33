"""The transactional tests' flush, as DELETEs instead of one TRUNCATE.

pytest-django empties the database after every transactional test (`transactional_db`,
`live_server`) with Django's `flush`, which on PostgreSQL is one `TRUNCATE` of every table.
A TRUNCATE gives each table a new file and syncs them all at commit: 0.8-1.6 s a test on this
machine under load, against 0.02-0.04 s for a `DELETE FROM` of each (the tables hold a test's
few rows). Django's foreign keys on PostgreSQL are `DEFERRABLE INITIALLY DEFERRED`, and `flush`
runs its statements in one transaction, so the order of the DELETEs does not matter.

Only the test process's flush changes; a flush that must reset sequences or cascade keeps
Django's TRUNCATE.

The flush also puts back the rows the migrations seed (the capacity tiers of
events/migrations/0002), so every test finds the database as migrated whichever tests ran
before it on its worker (under pytest-xdist the order of files differs from run to run)."""

from __future__ import annotations

import importlib
from typing import Any

from django.db.backends.postgresql.operations import DatabaseOperations

_truncate = DatabaseOperations.sql_flush
# Rebuilt as they were by the post_migrate signal that follows every flush: kept, that signal
# finds every row there and writes nothing.
KEPT = frozenset({"django_content_type", "auth_permission"})


def _delete_each(
    self: DatabaseOperations,
    style: Any,
    tables: list[str],
    *,
    reset_sequences: bool = False,
    allow_cascade: bool = False,
) -> list[str]:
    if reset_sequences or allow_cascade or not tables:
        return _truncate(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    deletes = [
        f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
        for table in tables
        if table not in KEPT
    ]
    return ["SET CONSTRAINTS ALL DEFERRED;", *deletes, *_seeded(self, tables)]


def _seeded(self: DatabaseOperations, tables: list[str]) -> list[str]:
    """The migrations' seed rows of the tables emptied, inserted again."""
    if "events_capacitytier" not in tables:
        return []
    tiers = importlib.import_module("events.migrations.0002_capacity_tiers").TIERS
    values = ", ".join(
        f"('{name}', {attendees}, {'NULL' if price is None else price}, 'usd')"
        for name, attendees, price in tiers
    )
    table = self.quote_name("events_capacitytier")
    # The migration's own constants (names and integers), not input: nothing to inject.
    return [
        f"INSERT INTO {table} (name, max_attendees, price_minor, price_currency) "  # noqa: S608
        f"VALUES {values} ON CONFLICT DO NOTHING;"
    ]


def install() -> None:
    DatabaseOperations.sql_flush = _delete_each  # type: ignore[method-assign]
