"""Returning donors on another device, with the simulated provider: "Given before? Get a code by
email". The same answer for any address (the code is emailed only where a card is saved), the
code stored hashed, and a wrong, expired, reused or exhausted code, too many requests or tries:
clear refusals that set no cookie. Nothing of the donor's reaches the logs."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.utils import timezone

from donations import donor_code_mail
from donations.donor_codes import SENT_ANSWER
from donations.models import DonorCode, SavedDonor
from donations.saved_donors import COOKIE
from tests.donations.support import in_threads, post_start, start_payload

pytestmark = pytest.mark.usefixtures("simulated_settings")

ASK = "/donations/saved/code/"
CHECK = "/donations/saved/code/check/"


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that refuses everything."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("smtp down")


def save_a_card(event, email="ada@example.com"):
    saver = Client()
    started = post_start(saver, event, start_payload(event, save_card=True, email=email)).json()
    saver.post(
        "/donations/simulated/confirm/",
        data={"donation_id": started["donation_id"], "client_secret": started["client_secret"]},
        content_type="application/json",
    )
    mail.outbox.clear()  # the receipt
    return SavedDonor.objects.get(donation_id=started["donation_id"])


def ask(client, email, **extra):
    return client.post(ASK, data={"email": email}, content_type="application/json", **extra)


def check(client, email, code, **extra):
    return client.post(
        CHECK, data={"email": email, "code": code}, content_type="application/json", **extra
    )


def emailed_code():
    [message] = mail.outbox
    return re.search(r"Your code is (\d{6})", message.body).group(1)


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_right_code_lets_this_browser_give_with_the_saved_card(client, event):
    save_a_card(event)

    asked = ask(client, "Ada@Example.com")
    code = emailed_code()
    checked = check(client, "ada@example.com", code)

    assert (asked.status_code, asked.json()) == (200, {"message": SENT_ANSWER})
    assert mail.outbox[0].to == ["ada@example.com"]
    assert mail.outbox[0].subject == f"Your code to give with your saved card: {code}"
    assert checked.status_code == 200
    assert checked.json() == {"card": "Visa •• 4242", "first_name": "Ada"}
    assert checked.cookies[COOKIE]["httponly"] is True
    assert client.get("/donations/saved/").json()["card"] == "Visa •• 4242"
    row = DonorCode.objects.get()
    assert code not in {str(v) for v in row.__dict__.values()}  # only its keyed hash is kept
    assert row.code_hash == donor_code_mail.code_hash(code_id=row.pk, code=code)


def test_an_address_without_a_saved_card_gets_the_same_answer_and_no_email(client, event):
    save_a_card(event)

    asked = ask(client, "nobody@example.com")

    assert (asked.status_code, asked.json()) == (200, {"message": SENT_ANSWER})
    assert mail.outbox == []
    row = DonorCode.objects.get(email="nobody@example.com")
    assert row.sent_at is not None  # a code like any other, that nobody received
    assert len(row.code_hash) == 64
    answer = check(client, "nobody@example.com", "123456")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("That code is not right.")
    assert COOKIE not in answer.cookies


def test_a_used_code_cannot_be_used_again(client, event):
    save_a_card(event)
    ask(client, "ada@example.com")
    code = emailed_code()
    assert check(client, "ada@example.com", code).status_code == 200

    other = Client()
    again = check(other, "ada@example.com", code)

    assert again.status_code == 400
    assert again.json()["error"] == "That code was already used. Ask for a new code."
    assert COOKIE not in again.cookies


def test_a_wrong_code_says_how_many_tries_are_left_and_the_fifth_ends_the_code(client, event):
    save_a_card(event)
    ask(client, "ada@example.com")
    code = emailed_code()

    answers = [check(client, "ada@example.com", wrong(code)) for _ in range(5)]
    right_too_late = check(client, "ada@example.com", code)

    assert [a.json()["error"] for a in answers] == [
        "That code is not right. Check the 6 digits in the latest email (4 tries left).",
        "That code is not right. Check the 6 digits in the latest email (3 tries left).",
        "That code is not right. Check the 6 digits in the latest email (2 tries left).",
        "That code is not right. Check the 6 digits in the latest email (1 try left).",
        "That code is not right, and that was the last try. Ask for a new code.",
    ]
    assert {a.status_code for a in answers} == {400}
    assert right_too_late.status_code == 429
    assert right_too_late.json()["error"] == "Too many wrong codes. Ask for a new code."
    assert not any(COOKIE in a.cookies for a in [*answers, right_too_late])
    assert client.get("/donations/saved/").status_code == 204


def test_an_expired_code_is_refused(client, event):
    save_a_card(event)
    ask(client, "ada@example.com")
    code = emailed_code()
    DonorCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    answer = check(client, "ada@example.com", code)

    assert answer.status_code == 400
    assert answer.json()["error"] == "That code has expired. Ask for a new code."
    assert COOKIE not in answer.cookies


def test_a_new_code_replaces_the_old_one(client, event):
    save_a_card(event)
    ask(client, "ada@example.com")
    old = emailed_code()
    mail.outbox.clear()
    ask(client, "ada@example.com")
    new = emailed_code()

    if old != new:  # one chance in a million that the new code is the same
        assert check(client, "ada@example.com", old).status_code == 400
    assert check(client, "ada@example.com", new).status_code == 200


def test_a_code_never_asked_for_is_refused(client, event):
    save_a_card(event)

    answer = check(client, "ada@example.com", "123456")

    assert answer.status_code == 400
    assert answer.json()["error"] == "Ask for a code first, then type the one in the email."


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email": "not an address"}, "email", "Enter a valid email address."),
        (
            {"email": "ada@example.com", "code": "12345"},
            "code",
            "Enter the 6 digits from the email.",
        ),
        (
            {"email": "ada@example.com", "code": "12a456"},
            "code",
            "Enter the 6 digits from the email.",
        ),
    ],
)
def test_a_malformed_try_is_a_clear_400(client, body, field, message):
    answer = client.post(CHECK, data=body, content_type="application/json")

    assert answer.status_code == 400
    assert answer.json() == {"error": message, "field": field}


def test_codes_asked_for_are_rate_limited_per_email_and_per_address(client, event, settings):
    save_a_card(event)
    settings.DONOR_CODE_REQUESTS_PER_EMAIL = 2
    settings.DONOR_CODE_REQUESTS_PER_ADDRESS = 3

    per_email = [ask(client, "ada@example.com", REMOTE_ADDR=f"10.0.0.{n}") for n in range(3)]
    per_address = [ask(client, f"d{n}@example.com", REMOTE_ADDR="10.9.9.9") for n in range(4)]

    assert [a.status_code for a in per_email] == [200, 200, 429]
    assert [a.status_code for a in per_address] == [200, 200, 200, 429]
    assert per_email[-1].json()["error"] == (
        "Too many codes asked for. Please wait a while and try again."
    )
    assert 0 < int(per_email[-1]["Retry-After"]) <= settings.DONOR_CODE_RATE_WINDOW_SECONDS
    assert len(mail.outbox) == 2


def test_tries_are_rate_limited_across_codes(client, event, settings):
    save_a_card(event)
    settings.DONOR_CODE_CHECKS_PER_EMAIL = 3
    ask(client, "ada@example.com")
    code = emailed_code()

    answers = [check(client, "ada@example.com", wrong(code)) for _ in range(3)]
    blocked = check(client, "ada@example.com", code)

    assert [a.status_code for a in answers] == [400, 400, 400]
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "Too many tries. Please wait a while and try again."
    assert DonorCode.objects.get().used_at is None


def test_a_code_not_sent_at_once_goes_out_from_the_outbox(client, event, settings):
    save_a_card(event)
    settings.EMAIL_BACKEND = "tests.donations.test_donor_codes.RefusingBackend"

    asked = ask(client, "ada@example.com")

    assert asked.status_code == 200  # the donor's answer does not depend on the mail server
    row = DonorCode.objects.get()
    assert (row.sent_at, row.code_hash) == (None, "")  # still due
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert donor_code_mail.send_pending_donor_codes() == 1
    assert check(client, "ada@example.com", emailed_code()).status_code == 200
    assert donor_code_mail.send_pending_donor_codes() == 0


def test_logs_carry_no_address_code_or_card(client, event, caplog):
    saved = save_a_card(event)
    caplog.set_level(logging.DEBUG)

    ask(client, "ada@example.com")
    code = emailed_code()
    check(client, "ada@example.com", wrong(code))
    check(client, "ada@example.com", code)
    client.get("/donations/saved/")

    logged = " ".join(
        f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name != "django.server"
    )
    for secret in ["ada@example.com", code, saved.customer_id, saved.payment_method_id]:
        assert secret not in logged


def test_ten_wrong_tries_at_once_spend_exactly_the_codes_five(client, event, settings):
    save_a_card(event)
    settings.DONOR_CODE_CHECKS_PER_EMAIL = 100
    ask(client, "ada@example.com")
    code = emailed_code()

    answers = in_threads(10, lambda: check(Client(), "ada@example.com", wrong(code)))

    assert sorted(a.status_code for a in answers) == [400] * 5 + [429] * 5
    assert DonorCode.objects.get().attempts == 5


def test_the_right_code_twice_at_once_lets_in_one_browser(client, event):
    save_a_card(event)
    ask(client, "ada@example.com")
    code = emailed_code()

    answers = in_threads(2, lambda: check(Client(), "ada@example.com", code))

    assert sorted(a.status_code for a in answers) == [200, 400]
    assert sum(COOKIE in a.cookies for a in answers) == 1
