"""The donor's gifts page with the simulated provider: their gifts across campaigns and their
receipts, in the campaign's brand when one campaign is concerned, and their monthly gifts'
changes (amount within the campaign's bounds, pause, resume, cancel after a confirmation step).
Every refusal (another donor's gift, a bad amount, no CSRF, no session, an ended gift, too many
changes) is a clear 4xx that changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from donations.models import Donation, MonthlyGift
from donations.services import renew_simulated_gift
from tests.donations.support import GIFTS, give_simulated, post_start, sign_in, start_payload
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.usefixtures("simulated_settings")

ADA = "ada@example.com"


def monthly_url(gift: MonthlyGift, action: str) -> str:
    return f"/donations/manage/monthly/{gift.pk}/{action}/"


@pytest.fixture
def ada_monthly(client, monthly_event) -> MonthlyGift:
    """Ada's $25 monthly gift (paid, active), and her session."""
    monthly_event.campaign.min_donation_minor = 500
    monthly_event.campaign.max_donation_minor = 100_000
    monthly_event.campaign.save()
    give_simulated(client, monthly_event, email=ADA, monthly=True)
    sign_in(client, ADA)
    return MonthlyGift.objects.get()


def state(gift: MonthlyGift) -> tuple:
    gift.refresh_from_db()
    return (gift.status, gift.paused, gift.amount_minor, gift.state_version, gift.changes.count())


def test_the_gifts_page_lists_the_donors_gifts_newest_first_across_campaigns(client):
    alpha = EventFactory(status="live", campaign=CampaignFactory(name="Alpha"))
    beta = EventFactory(status="live", campaign=CampaignFactory(name="Beta"))
    give_simulated(client, alpha, email=ADA, amount_minor=2_500)
    give_simulated(client, beta, email=ADA, amount_minor=123_456)
    give_simulated(client, beta, email="grace@example.com", amount_minor=9_900)
    declined = client.post(  # a declined attempt is no gift
        "/donations/simulated/confirm/",
        data={"outcome": "decline", **_started(client, alpha, ADA)},
        content_type="application/json",
    )
    assert declined.status_code == 402
    sign_in(client, ADA)

    page = client.get(GIFTS).content.decode()

    first, second = Donation.objects.filter(email=ADA, status="succeeded").order_by("-pk")
    assert page.index(first.reference) < page.index(second.reference)  # newest first
    assert "<strong data-gift-amount>$1,234.56</strong> to <span data-gift-campaign>Beta" in page
    assert "<strong data-gift-amount>$25</strong> to <span data-gift-campaign>Alpha" in page
    assert page.count("data-gift-status>Succeeded<") == 2
    assert page.count("data-gift=") == 2
    assert f'href="/donations/manage/receipts/{first.reference}/"' in page
    assert "$99" not in page  # Grace's gift
    assert "data-brand-name" not in page  # two campaigns: Pledgecast's own header


def _started(client, event, email):
    started = post_start(client, event, start_payload(event, email=email)).json()
    return {"donation_id": started["donation_id"], "client_secret": started["client_secret"]}


def test_a_receipt_of_ones_own_gift_is_shown_in_the_campaigns_brand(client):
    campaign = CampaignFactory(name="Alpha", paid_for_by="Paid for by Alpha PAC")
    give_simulated(client, EventFactory(status="live", campaign=campaign), email=ADA)
    sign_in(client, ADA)
    gift = Donation.objects.get()

    gifts_page = client.get(GIFTS).content.decode()
    response = client.get(f"/donations/manage/receipts/{gift.reference}/")

    assert "data-paid-for-by>Paid for by Alpha PAC<" in gifts_page  # one campaign: its brand
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<dd class="manage-mono">{gift.reference}</dd>' in page
    assert "donation of <strong>$25</strong> to Alpha Committee" in page
    assert "data-brand-name>Alpha<" in page
    assert "data-paid-for-by>Paid for by Alpha PAC<" in page
    assert response["Cache-Control"] == "private, no-store"


def test_another_donors_receipt_is_not_found(client, event):
    give_simulated(client, event, email="grace@example.com")
    give_simulated(client, event, email=ADA)
    sign_in(client, ADA)
    graces = Donation.objects.get(email="grace@example.com")

    for reference in (graces.reference, "PC-NOSUCHREF0", "x" * 300):
        response = client.get(f"/donations/manage/receipts/{reference}/")
        assert response.status_code == 404
        page = response.content.decode()
        assert "We found no gift with this reference among yours." in page
        assert "grace@example.com" not in page


def test_the_monthly_amount_changes_within_the_campaigns_bounds(client, ada_monthly):
    response = client.post(monthly_url(ada_monthly, "amount"), {"amount": "40"})

    assert response.status_code == 303
    assert state(ada_monthly) == ("active", False, 4_000, 1, 1)
    change = ada_monthly.changes.get()
    assert (change.source, change.what) == ("donor", "Amount changed from $25 to $40 a month")
    page = client.get(GIFTS).content.decode()
    assert "is now $40 a month, from the next month on." in page
    assert "$40 a month to " in page
    # The next month charges, and counts, the new amount.
    month2 = renew_simulated_gift(monthly_gift_id=ada_monthly.pk, month=2)
    assert month2 is not None
    assert (month2.amount_minor, month2.gift_minor, month2.status) == (4_000, 4_000, "succeeded")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("4.99", "The minimum gift is $5."),
        ("1000.01", "The maximum gift is $1000."),
        ("ten", "Enter an amount such as 25 or 25.50."),
        ("25.001", "Use at most two decimal places."),
        ("", "Enter the new monthly amount, such as 25 or 25.50."),
    ],
)
def test_a_bad_amount_is_refused_next_to_its_field_and_changes_nothing(
    client, ada_monthly, amount, message
):
    before = state(ada_monthly)

    response = client.post(monthly_url(ada_monthly, "amount"), {"amount": amount})

    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="amount-{ada_monthly.pk}-error">{message}</p>' in page
    assert 'aria-invalid="true"' in page
    assert "Nothing was changed: please correct the amount below." in page
    assert state(ada_monthly) == before


def test_pause_stops_the_months_until_resume(client, ada_monthly):
    paused = client.post(monthly_url(ada_monthly, "pause"))

    assert paused.status_code == 303
    assert state(ada_monthly)[:4] == ("active", True, 2_500, 1)
    assert "Paused: nothing is charged until you resume it" in client.get(GIFTS).content.decode()
    assert renew_simulated_gift(monthly_gift_id=ada_monthly.pk, month=2) is None
    assert client.post(monthly_url(ada_monthly, "pause")).status_code == 303  # a double click
    assert state(ada_monthly)[:4] == ("active", True, 2_500, 1)

    assert client.post(monthly_url(ada_monthly, "resume")).status_code == 303
    assert state(ada_monthly) == ("active", False, 2_500, 2, 2)
    assert [c.what for c in ada_monthly.changes.all()] == ["Resumed", "Paused"]
    assert renew_simulated_gift(monthly_gift_id=ada_monthly.pk, month=3) is not None


def test_cancel_asks_for_confirmation_then_ends_the_gift(client, ada_monthly):
    confirm = client.get(monthly_url(ada_monthly, "cancel"))

    assert confirm.status_code == 200
    assert "Yes, cancel my monthly gift" in confirm.content.decode()
    assert state(ada_monthly)[0] == "active"

    ended = client.post(monthly_url(ada_monthly, "cancel"))

    assert ended.status_code == 303
    ada_monthly.refresh_from_db()
    assert (ada_monthly.status, ada_monthly.ended_at is not None) == ("ended", True)
    assert [(c.source, c.what) for c in ada_monthly.changes.all()] == [("donor", "Ended")]
    assert "is cancelled: nothing more will be charged" in client.get(GIFTS).content.decode()
    assert renew_simulated_gift(monthly_gift_id=ada_monthly.pk, month=2) is None
    assert client.post(monthly_url(ada_monthly, "cancel")).status_code == 303  # done already


def test_an_ended_gift_cannot_be_paused_or_changed(client, ada_monthly):
    client.post(monthly_url(ada_monthly, "cancel"))
    before = state(ada_monthly)

    for action, data in [("pause", {}), ("amount", {"amount": "30"})]:
        response = client.post(monthly_url(ada_monthly, action), data)
        assert response.status_code == 409
        assert "This monthly gift has ended" in response.content.decode()
    assert state(ada_monthly) == before


def test_another_donors_monthly_gift_is_not_found_and_nothing_changes(client, monthly_event):
    give_simulated(client, monthly_event, email="grace@example.com", monthly=True)
    graces = MonthlyGift.objects.get()
    give_simulated(client, monthly_event, email=ADA)
    sign_in(client, ADA)
    before = state(graces)

    for method, action, data in [
        ("post", "amount", {"amount": "30"}),
        ("post", "amount", {"amount": "bad"}),
        ("post", "pause", {}),
        ("post", "resume", {}),
        ("get", "cancel", {}),
        ("post", "cancel", {}),
    ]:
        response = getattr(client, method)(monthly_url(graces, action), data)
        assert response.status_code == 404, action
        assert "This monthly gift is not one of yours." in response.content.decode()
    assert client.post("/donations/manage/monthly/999999/pause/").status_code == 404
    assert state(graces) == before


def test_changes_without_csrf_or_a_session_are_refused(client, ada_monthly):
    before = state(ada_monthly)
    no_csrf = Client(enforce_csrf_checks=True)
    no_csrf.cookies = client.cookies
    no_session = Client()

    for action in ("pause", "cancel", "amount"):
        assert no_csrf.post(monthly_url(ada_monthly, action), {"amount": "30"}).status_code == 403
        refused = no_session.post(monthly_url(ada_monthly, action), {"amount": "30"})
        assert refused.status_code == 403
        assert "You are not signed in to your gifts" in refused.content.decode()
    assert state(ada_monthly) == before


def test_changes_past_the_hourly_limit_are_refused(client, ada_monthly, settings):
    settings.MANAGE_CHANGES_PER_DONOR = 1
    client.post(monthly_url(ada_monthly, "pause"))

    refused = client.post(monthly_url(ada_monthly, "resume"))

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "You have made many changes in the last hour." in refused.content.decode()
    assert state(ada_monthly)[:2] == ("active", True)


def test_signing_out_ends_the_session(client, ada_monthly):
    response = client.post("/donations/manage/sign-out/")

    assert response.status_code == 303
    assert client.get(GIFTS).status_code == 403


def test_staff_see_the_donors_changes_on_the_monthly_gift(client, ada_monthly, superuser):
    client.post(monthly_url(ada_monthly, "amount"), {"amount": "30"})
    client.post(monthly_url(ada_monthly, "pause"))
    staff = Client()
    staff.force_login(superuser)

    page = staff.get(f"/admin/donations/monthlygift/{ada_monthly.pk}/change/").content.decode()
    listing = staff.get("/admin/donations/monthlygift/").content.decode()

    assert "Amount changed from $25 to $30 a month" in page
    assert "Paused" in page
    assert page.count("The donor (self-service page)") == 2
    assert 'class="field-paused"' in listing
