"""The web process's database connections stay within its budget (the pool) whatever the
request rate, and a database that gives no connection gets a 503 with Retry-After that changed
nothing, from the admin and the HLS ingest alike, wherever the request meets the failure: in
the view, or in a middleware on the way out (the session saved after a login). Against a
PostgreSQL of the test's own."""

from __future__ import annotations

import http.cookiejar
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message

import psycopg
import pytest

from config.errors import DATABASE_UNAVAILABLE
from tests import support
from tests.support.processes import (
    Postgres,
    Server,
    prepare_database,
    start_postgres,
    start_server,
)

pytestmark = pytest.mark.serial  # deadlines and bursts: run alone (Makefile)

MAX_CONNECTIONS = 20
POOL_SIZE = 4
WEBHOOK_THREADS = 2
BUDGET = POOL_SIZE + WEBHOOK_THREADS
DATABASE = "pc_budget_fault"
WEB_ROLE = "pc_web"  # not a superuser: its connection limit holds (a superuser's does not)
PASSWORD = "budget-test-password"

SETUP = """
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from events.models import Campaign, CapacityTier, Event
from streaming import services

get_user_model().objects.create_superuser("root", "root@example.com", %(password)r)
campaign = Campaign.objects.create(name="Budget", slug="budget", legal_name="Budget PAC")
now = timezone.now()
event = Event.objects.create(
    campaign=campaign, title="Budget night", slug="budget-night", starts_at=now,
    ends_at=now + timedelta(hours=2), goal_minor=100_000, status="live",
    capacity_tier=CapacityTier.objects.order_by("max_attendees").first(),
)
stream, key = services.create_stream(event_id=event.pk)
print(json.dumps({"slug": event.slug, "stream_id": stream.pk, "public_id": stream.public_id,
                  "key": key}))
"""


@dataclass
class Site:
    postgres: Postgres
    server: Server
    slug: str
    stream_id: int
    public_id: str
    key: str

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.postgres.url(DATABASE), autocommit=True)

    def web_connections(self) -> int:
        with self.admin() as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [WEB_ROLE]
            ).fetchone()
        assert row is not None
        return int(row[0])

    def stream_row(self) -> tuple:
        with self.admin() as conn:
            row = conn.execute(
                "SELECT state, ended_at, live_at FROM streaming_stream WHERE id = %s",
                [self.stream_id],
            ).fetchone()
        assert row is not None
        return tuple(row)


@pytest.fixture(scope="module")
def site(live_redis, tmp_path_factory) -> Iterator[Site]:
    postgres = start_postgres(max_connections=MAX_CONNECTIONS)
    try:
        with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {WEB_ROLE} LOGIN PASSWORD '{PASSWORD}'")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {WEB_ROLE}")
        overrides = {
            "DATABASE_URL": postgres.url(DATABASE, user=f"{WEB_ROLE}:{PASSWORD}"),
            "DATABASE_POOL_SIZE": str(POOL_SIZE),
            "DONATION_WEBHOOK_THREADS": str(WEBHOOK_THREADS),
            "DATABASE_POOL_TIMEOUT": "1",
            "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
            "SECURE_COOKIES": "0",
        }
        facts = prepare_database(overrides, SETUP % {"password": PASSWORD})
        server = start_server(env=overrides)
        try:
            yield Site(postgres=postgres, server=server, **facts)
        finally:
            server.stop()
    finally:
        postgres.stop()


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
            response.read()
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"


class Staff:
    """A logged-in admin session (cookies and the CSRF token)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def request(
        self, method: str, path: str, fields: dict | None = None, *, accept: str = BROWSER
    ) -> tuple[int, Message, str]:
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.csrf(), **(fields or {})})
        request = urllib.request.Request(  # noqa: S310 (a loopback URL we built)
            self.server.url(path),
            data=body.encode() if method == "POST" else None,
            method=method,
            headers={"Referer": self.server.origin, "Accept": accept},
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.headers, refused.read().decode()

    def log_in(self) -> None:
        self.request("GET", "/admin/login/")
        status, _, _ = self.post_login()
        assert status == 200
        assert self.has_session()

    def post_login(self) -> tuple[int, Message, str]:
        return self.request(
            "POST", "/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD}
        )

    def has_session(self) -> bool:
        return any(c.name == "sessionid" for c in self.jar)


@contextmanager
def refusing(site: Site) -> Iterator[None]:
    """The web role may open no connection, and loses those it has: the pool gets none. On
    the way out, the role may connect again, and the pool reconnects by itself (within its
    backoff): returns once a page that reads the database answers."""
    with site.admin() as conn:
        conn.execute(f"ALTER ROLE {WEB_ROLE} CONNECTION LIMIT 0")

        def cut() -> bool:
            # Again at each look: a connection that authenticated just before the limit
            # (the pool refilling) is cut too.
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE usename = %s", [WEB_ROLE])  # fmt: skip
            return site.web_connections() == 0

        try:
            support.wait_for(cut, 20, what="no web connection")
            yield
        finally:
            conn.execute(f"ALTER ROLE {WEB_ROLE} CONNECTION LIMIT -1")
            event_page = site.server.url(f"/events/{site.slug}/")
            support.wait_for(lambda: get_status(event_page) == 200, 30, what="a reconnected pool")


@contextmanager
def session_saves_cut(site: Site) -> Iterator[None]:
    """The server cuts the connection that updates a session row, as a shutdown cuts every
    connection (SQLSTATE 57P01): the view has run, the session middleware's save on the way
    out meets the failure."""
    with site.admin() as conn:
        conn.execute(
            "CREATE FUNCTION cut_connection() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER cut_session_saves BEFORE UPDATE ON django_session "
            "FOR EACH ROW EXECUTE FUNCTION cut_connection()"
        )
        try:
            yield
        finally:
            conn.execute("DROP TRIGGER cut_session_saves ON django_session")
            conn.execute("DROP FUNCTION cut_connection()")


def assert_unavailable_page(status: int, headers: Message, text: str) -> None:
    """A browser's answer to a database that gave no connection: the 503 page (not a 500,
    not a 400), with Retry-After."""
    assert (status, headers.get("Retry-After"), headers.get_content_type()) == (
        503, "5", "text/html",
    )  # fmt: skip
    assert f"<p>{DATABASE_UNAVAILABLE}</p>" in text


def put_playlist(site: Site) -> tuple[int, Message, str]:
    playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
    request = urllib.request.Request(  # noqa: S310 (a loopback URL we built)
        site.server.url(f"/streaming/ingest/{site.public_id}/index.m3u8"),
        data=playlist.encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {site.key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers, refused.read().decode()


def test_a_burst_of_requests_stays_within_the_connection_budget(site):
    urls = [
        site.server.url(f"/events/{site.slug}/tally.json" if i % 2 else f"/events/{site.slug}/")
        for i in range(200)
    ]
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        with site.admin() as conn:
            while not done.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [WEB_ROLE]
                ).fetchone()
                peak = max(peak, int(row[0]) if row else 0)
                done.wait(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = Counter(pool.map(get_status, urls))
    finally:
        done.set()
        watcher.join()
    assert statuses == Counter({200: 200})
    assert 0 < peak <= BUDGET
    assert site.web_connections() <= BUDGET


def test_without_a_connection_the_admin_and_the_ingest_answer_503_and_change_nothing(site):
    staff = Staff(site.server)
    staff.log_in()
    end_path = f"/admin/streaming/stream/{site.stream_id}/end/"
    before = site.stream_row()
    with refusing(site):
        assert_unavailable_page(*staff.request("POST", end_path))

        status, headers, text = put_playlist(site)
        assert (status, headers.get("retry-after")) == (503, "5")
        assert text.startswith("The database is busy: nothing was changed.")

        status = get_status(site.server.url(f"/events/{site.slug}/tally.json"))
        assert status == 503
        assert site.stream_row() == before
    # The pool has reconnected by itself: the same action now ends the stream.
    status, _, _ = staff.request("POST", end_path)
    assert status == 200  # the redirect to the change page, followed
    assert site.stream_row()[0] == "ended"


def test_a_signed_in_admin_page_without_a_connection_is_the_503_page_or_json(site):
    staff = Staff(site.server)
    staff.log_in()
    with refusing(site):
        assert_unavailable_page(*staff.request("GET", "/admin/events/event/"))

        status, headers, text = staff.request(
            "GET", "/admin/events/event/", accept="application/json"
        )
        assert (status, headers.get("Retry-After"), headers.get_content_type()) == (
            503, "5", "application/json",
        )  # fmt: skip
        assert json.loads(text) == {"error": DATABASE_UNAVAILABLE}
    status, _, text = staff.request("GET", "/admin/events/event/")
    assert status == 200
    assert "Budget night" in text


def test_a_login_whose_session_save_loses_the_database_is_a_503_and_signs_no_one_in(site):
    staff = Staff(site.server)
    staff.request("GET", "/admin/login/")
    with session_saves_cut(site):
        assert_unavailable_page(*staff.post_login())
    assert not staff.has_session()
    status, _, text = staff.request("GET", "/admin/")
    assert status == 200  # the login page, after its redirect
    assert "Log in" in text
    # The database is back: the same login goes through.
    staff.log_in()
