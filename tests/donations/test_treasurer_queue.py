"""The treasurer's queue: items found by the sweep with their clocks, the actions and their
audit lines, who may act, and the daily mail of overdue items."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from donations import services, treasurer
from donations.compliance import digest, queue
from donations.models import (
    ComplianceAction,
    ComplianceItem,
    Donation,
    InfoRequest,
    ItemKind,
    TreasurerDigest,
)
from donations.refunds import refund_donation
from donations.tasks import mail_treasurer_digests
from tests.donations.factories import DonationFactory
from tests.factories import CampaignFactory, ElectionFactory, EventFactory

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _simulated(simulated_settings):
    pass


def paid(campaign, **fields):
    """A gift paid through the simulated provider's events (the ledger's own path)."""
    fields.setdefault("gift_minor", 5_000)
    gift = DonationFactory(
        event=EventFactory(campaign=campaign, status="live"),
        provider="simulated",
        payment_id=f"sim_pi_q{next(_ids)}",
        **fields,
    )
    services.confirm_simulated_payment(donation=gift, succeed=True)
    gift.refresh_from_db()
    return gift


def over_the_limit(campaign):
    """Two gifts of one person (two emails) for the primary, within its limit when given;
    the limit lowered later to $3,000 leaves $500 of excess on the later gift."""
    campaign.election_limit_minor = 350_000
    campaign.save()
    primary = ElectionFactory(campaign=campaign, kind="primary", days=30)
    general = ElectionFactory(campaign=campaign, kind="general", days=150)
    for email, amount in (("ada@example.com", 200_000), ("ada@work.example", 150_000)):
        paid(
            campaign,
            gift_minor=amount,
            email=email,
            donor_key="k-ada",
            election=primary,
            election_minor=amount,
        )
    campaign.election_limit_minor = 300_000
    campaign.save()
    queue.sweep()
    return ComplianceItem.objects.get(kind=ItemKind.EXCESSIVE), primary, general


def act(client, item, action, note=""):
    url = reverse("admin:donations_complianceitem_act", args=[item.pk])
    return client.post(url, {"action": action, "note": note}, follow=True)


def page_messages(response):
    return [str(m) for m in response.context["messages"]]


def test_an_excessive_contribution_gets_a_60_day_clock_once():
    campaign = CampaignFactory()
    item, primary, _ = over_the_limit(campaign)
    gift = Donation.objects.get(email="ada@work.example")

    assert (item.donation_id, item.election_id, item.amount_minor) == (gift.pk, primary.pk, 50_000)
    assert item.due_at == gift.succeeded_at + timedelta(days=60)
    assert queue.clock(item).days_left == 60
    assert queue.sweep() == 0
    assert ComplianceItem.objects.filter(kind=ItemKind.EXCESSIVE).count() == 1


def test_missing_information_gets_a_30_day_clock_and_closes_when_answered():
    campaign = CampaignFactory()
    received = timezone.now() - timedelta(days=31)
    request = InfoRequest.objects.create(
        campaign=campaign, email="ada@example.com", received_at=received, sent_at=received
    )

    queue.sweep()
    item = ComplianceItem.objects.get(kind=ItemKind.MISSING_INFO)
    assert item.due_at == received + timedelta(days=30)
    assert queue.clock(item).overdue is True
    assert queue.clock(item).days_left == -1

    InfoRequest.objects.filter(pk=request.pk).update(answered_at=timezone.now())
    queue.sweep()
    item.refresh_from_db()
    assert item.resolved_at is not None
    assert queue.clock(item).overdue is False
    assert list(item.actions.values_list("user", "what")) == [(None, "answered")]


def test_a_foreign_address_is_questionable_for_30_days():
    gift = paid(CampaignFactory(), country="FR")

    queue.sweep()

    item = ComplianceItem.objects.get(donation=gift)
    assert (item.kind, item.due_at) == (ItemKind.QUESTIONABLE, gift.succeeded_at + timedelta(30))


def test_large_gifts_refunds_and_disputes_are_review_only_items():
    campaign = CampaignFactory()  # large gifts from $1,000 by default
    large = paid(campaign, gift_minor=100_000)
    small = paid(campaign, gift_minor=99_999)
    refunded = paid(campaign)
    Donation.objects.filter(pk=refunded.pk).update(refunded_minor=1_000)
    disputed = paid(campaign)
    Donation.objects.filter(pk=disputed.pk).update(dispute_id="dp_1", disputed_minor=5_000)

    queue.sweep()

    items = ComplianceItem.objects.order_by("kind")
    assert [(i.kind, i.donation_id, i.amount_minor, i.due_at) for i in items] == [
        (ItemKind.DISPUTE, disputed.pk, 5_000, None),
        (ItemKind.LARGE, large.pk, 100_000, None),
        (ItemKind.REFUND, refunded.pk, 1_000, None),
    ]
    assert not ComplianceItem.objects.filter(donation=small).exists()
    assert queue.clock(items[0]).due_at is None


def test_the_list_highlights_overdue_items(client, staff_factory):
    campaign = CampaignFactory()
    gift = paid(campaign, country="FR")
    queue.sweep()
    ComplianceItem.objects.update(due_at=timezone.now() - timedelta(days=2))
    client.force_login(staff_factory(campaign, "viewer"))

    page = client.get(reverse("admin:donations_complianceitem_changelist")).content.decode()

    assert '<strong class="overdue">' in page
    assert "-2 day(s) left: OVERDUE" in page
    assert gift.reference in page


def test_accepting_a_questionable_gift_writes_who_and_why(client, staff_factory):
    campaign = CampaignFactory()
    paid(campaign, country="FR")
    queue.sweep()
    item = ComplianceItem.objects.get()
    user = staff_factory(campaign, "treasurer")
    client.force_login(user)

    refused = act(client, item, "accept", note="  ")
    assert page_messages(refused) == ["Write a note saying why."]
    assert not item.actions.exists()

    done = act(client, item, "accept", note="US passport checked by phone.")

    assert page_messages(done) == ["Done: accept."]
    line = item.actions.get()
    assert (line.user, line.what, line.note) == (user, "accept", "US passport checked by phone.")
    item.refresh_from_db()
    assert item.resolved_at is not None
    assert "US passport checked by phone." in done.content.decode()


def test_refunding_the_excess_refunds_only_the_excess(client, staff_factory):
    campaign = CampaignFactory()
    item, _, _ = over_the_limit(campaign)
    client.force_login(staff_factory(campaign, "owner"))

    act(client, item, "refund")

    gift = Donation.objects.get(pk=item.donation_id)
    assert (gift.refunded_minor, gift.net_minor) == (50_000, 100_000)
    line = item.actions.get()
    assert line.what.startswith("refund requested (")
    assert queue.excess_by_gift(campaign_id=campaign.pk) == {}


def test_redesignating_the_excess_moves_it_and_tells_the_donor_once(client, staff_factory):
    campaign = CampaignFactory()
    item, primary, general = over_the_limit(campaign)
    client.force_login(staff_factory(campaign, "treasurer"))
    mail.outbox.clear()

    act(client, item, "redesignate", note="Donor agreed by phone.")

    gift = Donation.objects.get(pk=item.donation_id)
    assert (gift.election_id, gift.election_minor) == (primary.pk, 100_000)
    assert (gift.split_election_id, gift.split_minor) == (general.pk, 50_000)
    assert item.actions.get().what == f"redesignated $500 to the {general.name}"
    assert queue.excess_by_gift(campaign_id=campaign.pk) == {}
    assert treasurer.send_due_notices() == 1
    assert treasurer.send_due_notices() == 0
    assert [m.to for m in mail.outbox] == [["ada@work.example"]]
    assert f"so $500 of it has been designated to the {general.name}" in mail.outbox[0].body


def test_a_redesignation_past_the_later_elections_limit_is_refused(client, staff_factory):
    campaign = CampaignFactory()
    item, _, general = over_the_limit(campaign)
    paid(campaign, gift_minor=280_000, donor_key="k-ada", election=general, election_minor=280_000)
    client.force_login(staff_factory(campaign, "treasurer"))

    refused = act(client, item, "redesignate")

    no_room = f"The donor has no room for it in the {general.name}: refund it."
    assert page_messages(refused) == [no_room]
    assert Donation.objects.get(pk=item.donation_id).split_election_id is None
    assert not item.actions.exists()


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_a_viewer_or_manager_sees_the_queue_but_cannot_act(client, staff_factory, role):
    campaign = CampaignFactory()
    paid(campaign, country="FR")
    queue.sweep()
    item = ComplianceItem.objects.get()
    client.force_login(staff_factory(campaign, role))

    page = client.get(reverse("admin:donations_complianceitem_change", args=[item.pk]))
    refused = act(client, item, "accept", note="looks fine")

    assert page.status_code == 200
    assert 'name="action"' not in page.content.decode()
    assert page_messages(refused) == ["Only the campaign's owners and treasurers act on the queue."]
    item.refresh_from_db()
    assert item.resolved_at is None
    assert not ComplianceAction.objects.exists()


def test_another_campaigns_staff_get_a_404(client, staff_factory):
    campaign = CampaignFactory()
    paid(campaign, country="FR")
    queue.sweep()
    item = ComplianceItem.objects.get()
    client.force_login(staff_factory(CampaignFactory(), "treasurer"))

    url = reverse("admin:donations_complianceitem_change", args=[item.pk])
    assert client.get(url).status_code == 404
    act_url = reverse("admin:donations_complianceitem_act", args=[item.pk])
    assert client.post(act_url, {"action": "accept", "note": "x"}).status_code == 404
    assert not ComplianceAction.objects.exists()


def test_overdue_items_are_mailed_to_treasurers_and_owners_once_a_day(staff_factory):
    late, on_time = CampaignFactory(), CampaignFactory()
    paid(late, country="FR")
    paid(on_time, country="FR")
    queue.sweep()
    ComplianceItem.objects.filter(campaign=late).update(due_at=timezone.now() - timedelta(1))
    staff_factory(late, "treasurer", email="t@example.com")
    staff_factory(late, "owner", email="o@example.com")
    staff_factory(late, "manager", email="m@example.com")
    staff_factory(on_time, "treasurer", email="t2@example.com")
    mail.outbox.clear()

    assert mail_treasurer_digests() == 1
    assert mail_treasurer_digests() == 0
    assert [m.to for m in mail.outbox] == [["o@example.com", "t@example.com"]]
    assert "1 item(s)" in mail.outbox[0].body

    tomorrow = timezone.now() + timedelta(days=1)
    assert digest.queue_digests(now=tomorrow) == 1
    assert digest.send_due_digests(now=tomorrow) == 1
    assert len(mail.outbox) == 2


def test_a_digest_that_failed_to_send_is_sent_by_the_next_run(settings, staff_factory):
    campaign = CampaignFactory()
    paid(campaign, country="FR")
    queue.sweep()
    ComplianceItem.objects.update(due_at=timezone.now() - timedelta(1))
    staff_factory(campaign, "treasurer", email="t@example.com")
    mail.outbox.clear()
    settings.EMAIL_BACKEND = "tests.events.test_registration.FailingBackend"

    assert digest.mail_digests() == 0
    assert TreasurerDigest.objects.get().sent_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert digest.mail_digests() == 1
    assert [m.to for m in mail.outbox] == [["t@example.com"]]


def test_the_audit_trail_is_append_only():
    campaign = CampaignFactory()
    paid(campaign, country="FR")
    queue.sweep()
    line = ComplianceAction.objects.create(item=ComplianceItem.objects.get(), what="note")

    line.note = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        line.save()
    assert ComplianceAction.objects.get().note == ""


def test_a_refund_reversed_after_the_donor_gave_again_makes_an_excessive_item():
    campaign = CampaignFactory(election_limit_minor=300_000)
    primary = ElectionFactory(campaign=campaign, kind="primary", days=30)
    first = paid(
        campaign, gift_minor=200_000, donor_key="k", election=primary, election_minor=200_000
    )
    Donation.objects.filter(pk=first.pk).update(refunded_minor=200_000, net_minor=0)
    paid(campaign, gift_minor=200_000, donor_key="k", election=primary, election_minor=200_000)
    queue.sweep()
    assert not ComplianceItem.objects.filter(kind=ItemKind.EXCESSIVE).exists()

    Donation.objects.filter(pk=first.pk).update(refunded_minor=0, net_minor=200_000)
    queue.sweep()

    item = ComplianceItem.objects.get(kind=ItemKind.EXCESSIVE)
    assert (item.amount_minor, item.election_id) == (100_000, primary.pk)


def test_a_campaigns_own_large_gift_threshold_applies():
    campaign = CampaignFactory(large_gift_minor=50_000)
    large = paid(campaign, gift_minor=50_000)
    paid(campaign, gift_minor=49_999)

    queue.sweep()

    assert list(ComplianceItem.objects.values_list("kind", "donation")) == [
        (ItemKind.LARGE, large.pk)
    ]


def test_an_excess_refunded_from_the_ledger_closes_its_item_with_a_line():
    campaign = CampaignFactory()
    item, _, _ = over_the_limit(campaign)
    refund_donation(donation_id=item.donation_id, user_id=None)

    queue.sweep()

    item.refresh_from_db()
    assert item.resolved_at is not None
    assert list(item.actions.values_list("user", "what")) == [(None, "settled")]


def test_refund_pressed_twice_refunds_the_excess_once(client, staff_factory):
    campaign = CampaignFactory()
    item, _, _ = over_the_limit(campaign)
    client.force_login(staff_factory(campaign, "treasurer"))

    act(client, item, "refund")
    again = act(client, item, "refund")

    assert page_messages(again) == ["This item is already resolved."]
    gift = Donation.objects.get(pk=item.donation_id)
    assert (gift.refunded_minor, gift.net_minor) == (50_000, 100_000)
    assert [line.what[:17] for line in item.actions.all()] == ["refund requested "]


@pytest.mark.django_db(transaction=True)
def test_two_treasurers_refunding_at_once_refund_the_excess_once(staff_factory):
    """Two requests at once on PostgreSQL: the item's row lock makes the second wait and then
    find the item resolved."""
    campaign = CampaignFactory()
    item, _, _ = over_the_limit(campaign)
    users = [staff_factory(campaign, "treasurer"), staff_factory(campaign, "owner")]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def press(user):
        barrier.wait(timeout=10)
        try:
            treasurer.do_item_action(
                item_id=item.pk, user_id=user.pk, is_superuser=False, action="refund", note=""
            )
            outcomes.append("done")
        except queue.ActionRefused as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["This item is already resolved.", "done"]
    gift = Donation.objects.get(pk=item.donation_id)
    assert (gift.refunded_minor, gift.net_minor) == (50_000, 100_000)
    assert ComplianceAction.objects.filter(item=item).count() == 1
