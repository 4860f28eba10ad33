"""The donor's self-service link: asking for it (the same answer whether or not the address has
given, rate limits), its email (text and HTML, the campaign's brand, from an outbox), opening it
(GET spends nothing, POST starts the session once) and every way a link or a session can be
refused: reused, expired, unknown, malformed, without CSRF, forged or old."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.utils import timezone

from donations.models import ManageLink
from donations.selfservice import emails, links, session
from tests.donations.support import (
    GIFTS,
    MANAGE,
    ask_link,
    give_simulated,
    link_path,
    post_start,
    start_payload,
)
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.usefixtures("simulated_settings")


@pytest.fixture
def donor(client, event) -> str:
    """ada@example.com, who gave $25 to `event`'s campaign; her receipt is out of the outbox."""
    give_simulated(client, event, email="ada@example.com")
    mail.outbox.clear()
    return "ada@example.com"


def asked_link(client, email: str = "ada@example.com") -> str:
    assert ask_link(client, email).status_code == 200
    return link_path(mail.outbox[-1])


def test_the_manage_page_asks_for_the_email_address_with_a_label(client):
    response = client.get(MANAGE)

    assert response.status_code == 200
    page = response.content.decode()
    assert '<label for="manage-email">Your email address</label>' in page
    assert 'autocomplete="email"' in page
    assert '<meta name="robots" content="noindex">' in page


def test_asking_emails_a_single_use_link_as_text_and_html(client, donor, settings):
    response = ask_link(client, "Ada@Example.com ")

    assert response.status_code == 200
    assert "If ada@example.com has given here, a link" in response.content.decode()
    [message] = mail.outbox
    path = link_path(message)
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert message.to == ["ada@example.com"]
    assert message.subject.startswith("Your link to manage your gifts")
    assert f"{settings.SITE_URL}{path}" in message.body
    assert "It works once, within 30 minutes." in message.body
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    assert f'href="{settings.SITE_URL}{path}"' in html
    link = ManageLink.objects.get()
    # Only the token's hash is stored.
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (link.salt, link.token_hash, link.email)
    assert (link.email, link.used_at) == ("ada@example.com", None)
    assert link.expires_at - link.created_at == timedelta(minutes=30)


def test_an_address_that_never_gave_gets_the_same_answer_and_no_email(client, event, donor):
    post_start(client, event, start_payload(event, email="unpaid@example.com"))  # never paid

    given = ask_link(client, "ada@example.com")
    unpaid = ask_link(client, "unpaid@example.com")
    never = ask_link(client, "nobody@example.com")

    assert given.status_code == unpaid.status_code == never.status_code == 200
    same = given.content.replace(b"ada@example.com", b"EMAIL")
    assert unpaid.content.replace(b"unpaid@example.com", b"EMAIL") == same
    assert never.content.replace(b"nobody@example.com", b"EMAIL") == same
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert ManageLink.objects.count() == 1


def test_an_invalid_email_address_is_refused_next_to_its_field(client, donor):
    response = ask_link(client, "ada@")

    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a valid email address, like name@example.com." in page
    assert 'aria-invalid="true" aria-describedby="manage-email-error"' in page
    assert (ManageLink.objects.count(), len(mail.outbox)) == (0, 0)


def test_link_requests_per_email_are_limited_with_a_clear_429(client, donor, settings):
    settings.MANAGE_LINKS_PER_EMAIL = 2
    ask_link(client, "ada@example.com")
    ask_link(client, "ada@example.com", REMOTE_ADDR="10.1.1.1")

    refused = client.post(MANAGE, {"email": "ada@example.com"}, REMOTE_ADDR="10.2.2.2")

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Too many links have been asked for" in refused.content.decode()
    assert ManageLink.objects.count() == 2
    # An address that never gave is counted the same way (the limit tells no one who gave).
    for _ in range(2):
        ask_link(client, "nobody@example.com")
    assert ask_link(client, "nobody@example.com").status_code == 429


def test_link_requests_per_address_are_limited(client, donor, settings):
    settings.MANAGE_LINKS_PER_ADDRESS = 2
    ask_link(client, "one@example.com")
    ask_link(client, "two@example.com")

    refused = ask_link(client, "ada@example.com")

    assert refused.status_code == 429
    assert (ManageLink.objects.count(), len(mail.outbox)) == (0, 0)


def test_opening_a_link_shows_continue_and_spends_nothing(client, donor):
    path = asked_link(client)

    for _ in range(2):  # a mail client's link scanner, then the donor
        response = client.get(path)
        assert response.status_code == 200
        assert "data-manage-continue" in response.content.decode()
        assert session.COOKIE not in response.cookies

    assert ManageLink.objects.get().used_at is None


def test_continue_spends_the_link_and_starts_an_hours_session(client, donor):
    path = asked_link(client)

    response = client.post(path)

    assert response.status_code == 303
    assert response["Location"] == GIFTS
    cookie = response.cookies[session.COOKIE]
    assert (cookie["max-age"], cookie["path"], cookie["samesite"]) == (
        3600,
        "/donations/manage/",
        "Strict",
    )
    assert cookie["httponly"]
    assert ManageLink.objects.get().used_at is not None
    page = client.get(GIFTS)
    assert page.status_code == 200
    assert "data-manage-email>ada@example.com<" in page.content.decode()


def test_a_reused_link_is_refused_with_a_clear_page_and_starts_no_session(client, donor):
    path = asked_link(client)
    client.post(path)
    used_at = ManageLink.objects.get().used_at
    other = type(client)()

    for response in (other.get(path), other.post(path)):
        assert response.status_code == 410
        page = response.content.decode()
        assert "This link was already used" in page
        assert "Each link works once" in page
        assert "data-manage-ask" in page  # the form for a new one
        assert session.COOKIE not in response.cookies
    assert ManageLink.objects.get().used_at == used_at
    assert other.get(GIFTS).status_code == 403


def test_an_expired_link_is_refused_and_stays_unspent(client, donor):
    path = asked_link(client)
    ManageLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    for response in (client.get(path), client.post(path)):
        assert response.status_code == 410
        page = response.content.decode()
        assert "This link has expired" in page
        assert "Links work for 30 minutes after we send them." in page
        assert session.COOKIE not in response.cookies
    assert ManageLink.objects.get().used_at is None
    assert client.get(GIFTS).status_code == 403


def test_an_unknown_or_malformed_link_is_refused(client, donor):
    asked_link(client)
    unknown = "A" * 43

    for path, status, title in [
        (f"{MANAGE}link/{unknown}/", 404, "This link is not valid"),
        (f"{MANAGE}link/too-short/", 400, "This link is incomplete"),
        (f"{MANAGE}link/{'A' * 42}%2A/", 400, "This link is incomplete"),
    ]:
        for response in (client.get(path), client.post(path)):
            assert response.status_code == status, path
            assert title in response.content.decode()
            assert session.COOKIE not in response.cookies
    assert ManageLink.objects.get().used_at is None


def test_continue_without_csrf_is_refused_and_spends_nothing(csrf_client, client, donor):
    path = asked_link(client)
    assert csrf_client.get(path).status_code == 200

    refused = csrf_client.post(path)

    assert refused.status_code == 403
    assert session.COOKIE not in refused.cookies
    assert ManageLink.objects.get().used_at is None


def test_the_gifts_page_without_a_session_asks_for_a_new_link(client, donor):
    response = client.get(GIFTS)

    assert response.status_code == 403
    page = response.content.decode()
    assert "You are not signed in to your gifts on this browser" in page
    assert "ada@example.com" not in page


def test_a_forged_or_old_session_is_no_session(client, donor):
    class OldSigner(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 3601)

    old = OldSigner(salt="donations.selfservice.session").sign_object(
        {"e": "ada@example.com", "l": 1}, compress=True
    )
    forged = signing.TimestampSigner(key="not-our-key", salt="donations.selfservice.session")
    for value in (old, forged.sign_object({"e": "ada@example.com", "l": 1}), "x" * 2000):
        client.cookies[session.COOKIE] = value
        response = client.get(GIFTS)
        assert response.status_code == 403
        assert "ada@example.com" not in response.content.decode()


def test_the_link_email_carries_the_campaigns_brand_and_paid_for_by(client):
    campaign = CampaignFactory(name="Alpha for Congress", paid_for_by="Paid for by Alpha PAC")
    give_simulated(client, EventFactory(campaign=campaign, status="live"), email="ada@example.com")
    mail.outbox.clear()

    page = client.get(f"{MANAGE}?campaign={campaign.slug}")
    ask_link(client, "ada@example.com", campaign=campaign.slug)

    assert "data-paid-for-by>Paid for by Alpha PAC<" in page.content.decode()
    assert 'name="campaign" value="' + campaign.slug + '"' in page.content.decode()
    [message] = mail.outbox
    assert message.subject == "Your link to manage your gifts to Alpha for Congress"
    assert message.body.startswith("Alpha for Congress\n")
    assert message.body.rstrip().endswith("Paid for by Alpha PAC")
    [(html, _)] = message.alternatives
    assert "Paid for by Alpha PAC" in html
    assert ManageLink.objects.get().campaign == campaign


def test_the_receipt_email_links_to_the_self_service_page(client, event, settings):
    give_simulated(client, event, email="ada@example.com")

    [receipt] = mail.outbox
    url = f"{settings.SITE_URL}{MANAGE}?campaign={event.campaign.slug}"
    assert url in receipt.body
    [(html, _)] = receipt.alternatives
    assert f'href="{url}"' in html


class BrokenEmail:
    """An email backend whose server is away."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("no mail server")


def test_a_link_email_the_send_missed_goes_out_from_the_outbox_and_never_once_expired(
    client, donor, settings
):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenEmail"
    late = links.request_link(email="ada@example.com")
    expired = links.request_link(email="ada@example.com")
    assert late is not None
    assert expired is not None
    ManageLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    assert ManageLink.objects.filter(email_sent_at=None).count() == 2

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert emails.send_pending_link_emails() == 1
    assert emails.send_pending_link_emails() == 0

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    sent = client.post(link_path(message))
    assert sent.status_code == 303
    assert ManageLink.objects.get(pk=late.pk).used_at is not None
