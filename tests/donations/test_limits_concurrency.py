"""The limit per election under real concurrency: one donor (four emails, one name and postal
code) starting 200 gifts at once through two web processes never passes the limit, counted
once every payment's events have landed."""

from __future__ import annotations

import http.cookiejar
import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator

import pytest
from django.db.models import Sum

from donations.models import Donation
from tests.donations.support import ITEMIZED, start_body
from tests.factories import CampaignFactory, ElectionFactory, EventFactory
from tests.support.processes import Server, start_server

STARTS = 200
THREADS = 20
GIFT_MINOR = 10_000
LIMIT_MINOR = 350_000  # a federal candidate committee's default per election


@pytest.fixture
def two_servers() -> Iterator[list[Server]]:
    env = {
        "ALLOW_SIMULATED_PAYMENTS": "1",
        "SECURE_COOKIES": "0",
        "DONATION_STARTS_PER_EMAIL": "1000",
        "DONATION_STARTS_PER_IP": "1000",
    }
    servers: list[Server] = []
    try:
        for _ in range(2):
            servers.append(start_server(env=env))
        yield servers
    finally:
        for server in servers:
            server.stop()


class Browser:
    """One donor's browser on one server: the event page's CSRF cookie, then JSON posts."""

    def __init__(self, server: Server, slug: str) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(server.url(f"/events/{slug}/"), timeout=30).read()

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        csrf = next(c.value for c in self.jar if c.name == "csrftoken")
        request = urllib.request.Request(  # noqa: S310 (a loopback URL we built)
            self.server.url(path),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": csrf},
        )
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as refused:
            return refused.code, json.load(refused)


def test_200_concurrent_starts_of_one_donor_across_two_web_processes_never_pass_the_limit(
    two_servers,
):
    campaign = CampaignFactory(kind="federal_candidate", paid_for_by="Paid for by Alpha")
    primary = ElectionFactory(campaign=campaign, kind="primary", days=30)
    event = EventFactory(campaign=campaign, status="live")
    emails = ["ada@example.com", "ada@work.example.com", "ADA@home.example.com", "a@l.example"]
    names = [
        ("Ada", "Lovelace"),
        ("ada", "LOVELACE"),
        ("Dr Ada", "Lovelace"),
        ("Ada K.", "Lovelace"),
    ]
    answers: list[tuple[int, dict, Browser]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    errors: list[BaseException] = []

    def donor(n: int) -> None:
        try:
            give(n)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
            raise

    def give(n: int) -> None:
        browser = Browser(two_servers[n % 2], event.slug)
        barrier.wait()
        for i in range(STARTS // THREADS):
            k = (n + i) % 4
            status, answer = browser.post(
                f"/donations/events/{event.slug}/start/",
                start_body(
                    event_id=event.pk,
                    amount_minor=GIFT_MINOR,
                    email=emails[k],
                    first_name=names[k][0],
                    last_name=names[k][1],
                    postal_code=["20500", "20500-0003"][k % 2],
                    **ITEMIZED,
                ),
            )
            with lock:
                answers.append((status, answer, browser))

    threads = [threading.Thread(target=donor, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []

    statuses = Counter(status for status, _, _ in answers)
    assert statuses == {200: LIMIT_MINOR // GIFT_MINOR, 400: STARTS - LIMIT_MINOR // GIFT_MINOR}
    assert {a["field"] for status, a, _ in answers if status == 400} == {"amount_minor"}
    for status, answer, browser in answers:
        if status == 200:
            confirmed, _ = browser.post(
                "/donations/simulated/confirm/",
                {"donation_id": answer["donation_id"], "client_secret": answer["client_secret"]},
            )
            assert confirmed == 200
    counted = Donation.objects.filter(election=primary, net_minor__gt=0)
    assert counted.count() == LIMIT_MINOR // GIFT_MINOR
    assert counted.aggregate(total=Sum("net_minor"))["total"] == LIMIT_MINOR
    assert Donation.objects.filter(status="pending").count() == 0
