"""Which database errors mean "no connection" (a 503 that changed nothing) and which stay
errors, also when another error was raised while handling them (the session's save):
config.errors.database_unavailable."""

from __future__ import annotations

import psycopg
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.db import OperationalError
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from config.errors import database_unavailable


def wrapped(cause: Exception) -> OperationalError:
    """As Django raises it: its OperationalError from psycopg's."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        return exc


def test_the_pools_timeout_is_unavailable():
    assert database_unavailable(wrapped(PoolTimeout("couldn't get a connection after 5 sec")))
    assert database_unavailable(PoolTimeout("couldn't get a connection after 5 sec"))


def test_a_refused_or_lost_connection_is_unavailable():
    assert database_unavailable(wrapped(psycopg.OperationalError("connection failed")))
    assert database_unavailable(wrapped(pg_errors.TooManyConnections("too many clients")))
    assert database_unavailable(wrapped(pg_errors.CannotConnectNow("starting up")))
    assert database_unavailable(wrapped(pg_errors.AdminShutdown("terminating connection")))


def test_a_refused_statement_stays_an_error():
    assert not database_unavailable(wrapped(pg_errors.DeadlockDetected("deadlock detected")))
    assert not database_unavailable(wrapped(pg_errors.QueryCanceled("statement timeout")))
    assert not database_unavailable(ValueError("not a database error"))


def raised_while_handling(cause: Exception) -> SessionInterrupted:
    """As the session middleware raises it for a save that failed: SessionInterrupted while
    handling UpdateError, while handling the database's error."""
    try:
        try:
            try:
                raise wrapped(cause)
            except OperationalError:
                raise UpdateError  # noqa: B904 (Django's own, without `from`)
        except UpdateError:
            raise SessionInterrupted("The request's session was deleted")  # noqa: B904
    except SessionInterrupted as exc:
        return exc


def test_a_session_save_that_lost_its_connection_is_unavailable():
    assert database_unavailable(raised_while_handling(pg_errors.AdminShutdown("terminating")))
    assert database_unavailable(raised_while_handling(PoolTimeout("couldn't get a connection")))


def test_a_session_save_refused_for_another_reason_stays_an_error():
    assert not database_unavailable(raised_while_handling(pg_errors.DeadlockDetected("deadlock")))
    assert not database_unavailable(SessionInterrupted("deleted by a concurrent logout"))
