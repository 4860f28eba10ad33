"""The embedded SQLite database takes concurrent writers (`make run`: the web process, the
stream worker and the encoder's PUTs) without "database is locked"."""

from __future__ import annotations

import contextlib
import threading

from django.db.backends.sqlite3.base import DatabaseWrapper

from config.env import database_from_url


def test_two_transactions_that_read_then_write_at_once_both_commit(tmp_path, django_db_blocker):
    # Its own SQLite file, outside the test database pytest-django guards.
    with django_db_blocker.unblock():
        run_two_writers(tmp_path)


def run_two_writers(tmp_path) -> None:
    settings_dict = {
        **database_from_url("sqlite:///pc.db", base_dir=tmp_path),
        "ATOMIC_REQUESTS": False, "AUTOCOMMIT": True, "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False, "TIME_ZONE": None, "USER": "", "PASSWORD": "",
        "HOST": "", "PORT": "", "TEST": {},
    }  # fmt: skip
    setup = DatabaseWrapper(settings_dict)
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE gifts (id INTEGER PRIMARY KEY, n INTEGER)")
    setup.close()

    # Both read inside their transaction, meet (or give up meeting after 2 s, when the other
    # waits for the write lock), then write: deferred transactions would both hold a read
    # lock here, and one would fail at once when upgrading to write.
    meet = threading.Barrier(2, timeout=2)
    errors: list[BaseException] = []

    def give(n: int) -> None:
        connection = DatabaseWrapper(settings_dict)
        try:
            connection.set_autocommit(False)
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM gifts")
                with contextlib.suppress(threading.BrokenBarrierError):
                    meet.wait()
                cursor.execute("INSERT INTO gifts (n) VALUES (%s)", [n])
            connection.commit()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=give, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    check = DatabaseWrapper(settings_dict)
    with check.cursor() as cursor:
        cursor.execute("SELECT n FROM gifts ORDER BY n")
        rows = cursor.fetchall()
    check.close()
    assert errors == []
    assert rows == [(1,), (2,)]
