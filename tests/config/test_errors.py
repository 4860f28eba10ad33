"""Errors as each client reads them (config/errors.py): JSON for JSON clients, pages for
browsers, Retry-After on every 429, 413 for a body past the limit, and the 503 from Django's
500 handler when the uncaught error is a database that gave no connection."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError
from django.test import Client
from psycopg_pool import PoolTimeout

from config.errors import CSRF_MESSAGE, DATABASE_UNAVAILABLE, server_error
from events.models import EventStatus
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

JSON = "application/json"


def error_of(response) -> str:
    assert response["Content-Type"] == JSON
    return json.loads(response.content)["error"]


def test_a_json_client_without_a_csrf_token_is_told_to_reload_in_json(event):
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/donations/events/{event.slug}/start/", data="{}", content_type=JSON)
    assert response.status_code == 403
    assert error_of(response) == CSRF_MESSAGE


def test_a_browser_without_a_csrf_token_gets_a_page_that_says_to_reload(event):
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/events/{event.slug}/register", {"name": "Ada", "email": "a@b.co"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert "Please reload the page" in response.content.decode()


def test_an_unknown_event_answers_a_json_client_in_json(client):
    response = client.post("/donations/events/no-such-event/start/", data="{}", content_type=JSON)
    assert response.status_code == 404
    assert error_of(response) == "Not found."
    assert error_of(client.get("/events/no-such-event/tally.json")) == "Not found."
    assert error_of(client.get("/nowhere", HTTP_ACCEPT=JSON)) == "Not found."


def test_a_wrong_method_answers_in_json_and_says_what_is_allowed(client):
    event = EventFactory(status=EventStatus.LIVE)
    response = client.post(f"/events/{event.slug}/stream.json")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert error_of(response) == "This address does not take that kind of request."
    response = client.get(f"/donations/events/{event.slug}/start/", HTTP_ACCEPT=JSON)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_a_browser_still_gets_the_not_found_page(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert "We can't find that page" in response.content.decode()


def test_a_body_past_the_upload_limit_is_413(client, event, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"display_name": "x" * 20_000})
    response = client.post(f"/donations/events/{event.slug}/start/", data=body, content_type=JSON)
    assert response.status_code == 413
    assert error_of(response) == "The request is too large."


def test_the_500_handler_answers_a_database_without_connections_with_the_503(rf):
    browser, json_client = rf.get("/admin/"), rf.get("/events/x/tally.json")
    try:  # as Django raises the pool's timeout, out of a middleware
        raise OperationalError("no connection") from PoolTimeout("no connection after 5 sec")
    except OperationalError:
        page, answer = server_error(browser), server_error(json_client)
    assert (page.status_code, page["Retry-After"], page["Content-Type"]) == (
        503, "5", "text/html; charset=utf-8",
    )  # fmt: skip
    assert f"<p>{DATABASE_UNAVAILABLE}</p>" in page.content.decode()
    assert (answer.status_code, answer["Retry-After"]) == (503, "5")
    assert error_of(answer) == DATABASE_UNAVAILABLE


def test_any_other_uncaught_error_stays_the_500_page(rf):
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(rf.get("/admin/"))
    assert response.status_code == 500
    assert "Retry-After" not in response
