"""The donor's monthly gift changes through Stripe's API (tests.donations.fakestripe): the
calls (Subscription.modify with the item's new price_data on the campaign's product, no
proration, pause_collection "void" and its unset, cancel), their idempotency keys, and the
webhooks converging with them: whatever arrives late or early, the newest state wins."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from donations.models import (
    Donation,
    GiftChangeSource,
    LedgerIssue,
    MonthlyGift,
    ProviderProduct,
)
from donations.monthly_state import apply_subscription_state
from donations.providers.stripe_events import parse_subscription
from donations.selectors import event_tally
from tests.donations.support import deliver, deliver_paid, paid_monthly_gift, sign_in

pytestmark = pytest.mark.usefixtures("stripe_settings")

ADA = "ada@example.com"


def url(gift: MonthlyGift, action: str) -> str:
    return f"/donations/manage/monthly/{gift.pk}/{action}/"


@pytest.fixture
def gift(client, monthly_event, stripe_settings) -> MonthlyGift:
    """Ada's $25 monthly gift at Stripe, its first month paid (every webhook delivered), and
    her session."""
    gift = paid_monthly_gift(client, monthly_event, stripe_settings)
    sign_in(client, ADA)
    assert (gift.status, gift.amount_minor) == ("active", 2_500)
    return gift


def state(gift: MonthlyGift) -> tuple:
    gift.refresh_from_db()
    return (gift.status, gift.paused, gift.amount_minor, gift.state_version)


def updated(client, fake, gift, *, created: int, event_id: str) -> None:
    """Deliver the subscription as it is at the fake now, as of `created`."""
    deliver(
        client,
        "customer.subscription.updated",
        fake.subscription_object(gift.subscription_id),
        created=created,
        id=event_id,
    )


def test_a_new_amount_changes_the_items_price_on_the_campaigns_product(
    client, gift, stripe_settings
):
    response = client.post(url(gift, "amount"), {"amount": "40"})

    assert response.status_code == 303
    assert state(gift) == ("active", False, 4_000, 1)
    # The item's id is read first (a price is changed on the item, never added).
    assert len(stripe_settings.calls("GET", f"/v1/subscriptions/{gift.subscription_id}")) == 1
    [call] = stripe_settings.calls("POST", f"/v1/subscriptions/{gift.subscription_id}")
    sub = stripe_settings.subscriptions[gift.subscription_id]
    [item] = sub["items"]["data"]
    assert {k: v for k, v in call.params.items() if k.startswith("items")} == {
        "items[0][id]": item["id"],
        "items[0][price_data][currency]": "usd",
        "items[0][price_data][product]": ProviderProduct.objects.get().product_id,
        "items[0][price_data][unit_amount]": "4000",
        "items[0][price_data][recurring][interval]": "month",
    }
    assert (call.params["proration_behavior"], call.params["metadata[pc_version]"]) == ("none", "1")
    assert "pause_collection" not in call.params
    assert call.idempotency_key == f"pc-gift-{gift.pk}-v1-amount-4000"
    assert item["price"]["unit_amount"] == 4_000


def test_pause_voids_the_months_and_resume_unsets_it(client, gift, stripe_settings):
    path = f"/v1/subscriptions/{gift.subscription_id}"

    assert client.post(url(gift, "pause")).status_code == 303
    assert stripe_settings.subscriptions[gift.subscription_id]["pause_collection"] == {
        "behavior": "void",
        "resumes_at": None,
    }
    assert state(gift) == ("active", True, 2_500, 1)
    assert client.post(url(gift, "resume")).status_code == 303

    pause, resume = stripe_settings.calls("POST", path)
    assert (pause.params["pause_collection[behavior]"], pause.params["metadata[pc_version]"]) == (
        "void",
        "1",
    )
    assert (resume.params["pause_collection"], resume.params["metadata[pc_version]"]) == ("", "2")
    assert (pause.idempotency_key, resume.idempotency_key) == (
        f"pc-gift-{gift.pk}-v1-pause",
        f"pc-gift-{gift.pk}-v2-resume",
    )
    assert stripe_settings.subscriptions[gift.subscription_id]["pause_collection"] is None
    assert state(gift) == ("active", False, 2_500, 2)


def test_cancel_ends_the_subscription_and_its_webhook_changes_nothing_more(
    client, gift, stripe_settings
):
    assert client.post(url(gift, "cancel")).status_code == 303

    [call] = stripe_settings.calls("DELETE", f"/v1/subscriptions/{gift.subscription_id}")
    assert call.idempotency_key == f"pc-gift-{gift.pk}-cancel"
    assert stripe_settings.subscriptions[gift.subscription_id]["status"] == "canceled"
    assert state(gift)[0] == "ended"
    deliver(
        client,
        "customer.subscription.deleted",
        stripe_settings.subscription_object(gift.subscription_id),
    )
    assert [(c.source, c.what) for c in gift.changes.all()] == [("donor", "Ended")]


def test_a_gift_cancelled_in_stripe_before_its_webhook_came_ends_when_the_donor_cancels(
    client, gift, stripe_settings
):
    stripe_settings.cancel(gift.subscription_id)  # its webhook has not arrived

    response = client.post(url(gift, "cancel"))

    assert response.status_code == 303
    assert state(gift)[0] == "ended"


def test_a_stale_subscription_update_after_the_change_does_not_revert_it(
    client, gift, stripe_settings
):
    before = stripe_settings.subscription_object(gift.subscription_id)  # $25, not paused
    client.post(url(gift, "amount"), {"amount": "40"})
    client.post(url(gift, "pause"))

    # Stripe's earlier news (before the changes) arrives now, as a new event.
    deliver(client, "customer.subscription.updated", before, id="evt_stale_after_change")

    assert state(gift) == ("active", True, 4_000, 2)
    assert [c.source for c in gift.changes.all()] == ["donor", "donor"]


def test_the_changes_own_webhook_and_a_later_dashboard_change_converge_in_any_order(
    client, gift, stripe_settings
):
    client.post(url(gift, "pause"))
    ours = stripe_settings.subscription_object(gift.subscription_id)
    now = int(time.time())
    # Campaign staff resume it in Stripe's dashboard a minute later.
    stripe_settings.subscriptions[gift.subscription_id]["pause_collection"] = None
    updated(client, stripe_settings, gift, created=now + 60, event_id="evt_dashboard_resume")
    assert state(gift) == ("active", False, 2_500, 1)

    # The pause's own event, delayed, arrives after the dashboard's.
    deliver(client, "customer.subscription.updated", ours, created=now, id="evt_late_pause")

    assert state(gift) == ("active", False, 2_500, 1)
    assert [(c.source, c.what) for c in gift.changes.all()] == [
        ("provider", "Resumed"),
        ("donor", "Paused"),
    ]


def test_a_changes_own_news_arriving_before_the_apis_answer_is_one_change_by_the_donor(
    client, gift, stripe_settings
):
    # At Stripe, the donor's pause (change 1) is made; its webhook is applied first...
    sub = stripe_settings.subscriptions[gift.subscription_id]
    sub["pause_collection"] = {"behavior": "void", "resumes_at": None}
    sub["metadata"]["pc_version"] = "1"
    answer = stripe_settings.subscription_object(gift.subscription_id)
    deliver(client, "customer.subscription.updated", answer)
    # ...then the API's answer to the same change is written.
    with transaction.atomic():
        apply_subscription_state(
            change=parse_subscription(answer), answered_to=GiftChangeSource.DONOR
        )

    assert state(gift) == ("active", True, 2_500, 1)
    assert [(c.source, c.what) for c in gift.changes.all()] == [("donor", "Paused")]


def test_a_later_month_at_the_new_amount_counts_the_new_amount(
    client, gift, stripe_settings, monthly_event
):
    client.post(url(gift, "amount"), {"amount": "40"})

    deliver_paid(client, stripe_settings.renew(gift.subscription_id))

    month2 = Donation.objects.exclude(pk=gift.first_donation_id).get()
    assert (month2.status, month2.amount_minor, month2.gift_minor, month2.fee_minor) == (
        "succeeded",
        4_000,
        4_000,
        0,
    )
    assert event_tally(event_id=monthly_event.pk).raised_minor == 6_500
    assert LedgerIssue.objects.count() == 0


def test_a_stripe_failure_changes_nothing_and_says_so(client, gift, stripe_settings):
    stripe_settings.fail_next(500)

    response = client.post(url(gift, "pause"))

    assert response.status_code == 503
    assert "We could not reach our payment processor. Nothing was changed" in (
        response.content.decode()
    )
    assert state(gift) == ("active", False, 2_500, 0)
    assert gift.changes.count() == 0
    assert stripe_settings.subscriptions[gift.subscription_id].get("pause_collection") is None


def test_a_rate_limited_change_is_retried_under_the_same_idempotency_key(
    client, gift, stripe_settings
):
    stripe_settings.fail_next(429)

    assert client.post(url(gift, "pause")).status_code == 303

    calls = stripe_settings.calls("POST", f"/v1/subscriptions/{gift.subscription_id}")
    assert [(c.status, c.idempotency_key) for c in calls] == [
        (429, f"pc-gift-{gift.pk}-v1-pause"),
        (200, f"pc-gift-{gift.pk}-v1-pause"),
    ]
    assert state(gift) == ("active", True, 2_500, 1)
