"""What treasurers do on the queue (donations/compliance/queue.py), each action one audit line
(beside refunds.py, whose path the refunds take: the compliance package imports neither).

Every action takes the item's row lock, checks that the user may act (owner or treasurer of
the item's campaign, or a superuser) and that the action fits the item's kind and state, and
raises ActionRefused with nothing changed otherwise:
- note: any item, open or closed; a line in the trail, nothing else;
- accept (a questionable contribution, with a note), review (a large gift, a refund, a
  dispute): closes the item;
- refund: the whole gift (questionable) or the excess (excessive), through the refunds path;
  the ledger changes when the provider's refund event lands, the item closes at the request;
- redesignate (excessive): the excess moves from the gift's election to the next one of its
  cycle, within the donor's room there; the donor's notice email goes through an outbox
  (`notice_due_at`, sent by the queue's beat task), so a broker outage delays it only.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from donations import refunds
from donations.compliance.aggregates import donor_totals, lock_donor
from donations.compliance.queue import ActionRefused, check_may_act, later_election
from donations.models import ComplianceAction, ComplianceItem, Donation, ItemKind
from events.money import format_money

log = logging.getLogger(__name__)

CLOSING = {
    "accept": {ItemKind.QUESTIONABLE},
    "review": {ItemKind.LARGE, ItemKind.REFUND, ItemKind.DISPUTE},
    "refund": {ItemKind.QUESTIONABLE, ItemKind.EXCESSIVE},
    "redesignate": {ItemKind.EXCESSIVE},
}
ACTIONS = ("note", *CLOSING)


def _locked(*, item_id: int, user_id: int, is_superuser: bool) -> ComplianceItem:
    item = ComplianceItem.objects.select_for_update().get(pk=item_id)
    check_may_act(user_id=user_id, is_superuser=is_superuser, campaign_id=item.campaign_id)
    return item


def _check_fits(item: ComplianceItem, action: str) -> None:
    if action not in ACTIONS:
        raise ActionRefused(f"Unknown action {action!r}.")
    if action == "note":
        return
    if item.kind not in CLOSING[action]:
        raise ActionRefused(f"A {item.get_kind_display().lower()} cannot be {action}ed.")
    if item.resolved_at is not None:
        raise ActionRefused("This item is already resolved.")


@transaction.atomic
def do_item_action(
    *, item_id: int, user_id: int, is_superuser: bool, action: str, note: str
) -> ComplianceAction:
    """Take `action` on the item as the user; returns the audit line. Raises ActionRefused
    (not allowed, wrong kind, resolved, a note missing, a refund or redesignation refused)
    with nothing changed; ComplianceItem.DoesNotExist for no such item."""
    note = note.strip()
    item = _locked(item_id=item_id, user_id=user_id, is_superuser=is_superuser)
    _check_fits(item, action)
    if action in ("note", "accept") and not note:
        raise ActionRefused("Write a note saying why.")
    what = action
    if action == "refund":
        what = _refund(item, user_id=user_id)
    elif action == "redesignate":
        what = _redesignate(item)
    if action != "note":
        item.resolved_at = timezone.now()
        item.save(update_fields=["resolved_at", "notice_due_at"])
    line = ComplianceAction.objects.create(item=item, user_id=user_id, what=what, note=note)
    log.info("compliance action item_id=%s what=%s user_id=%s", item.pk, action, user_id)
    return line


def _refund(item: ComplianceItem, *, user_id: int) -> str:
    assert item.donation_id is not None  # noqa: S101 -- the refundable kinds name a gift
    amount = item.amount_minor if item.kind == ItemKind.EXCESSIVE else None
    try:
        refund_id = refunds.refund_donation(
            donation_id=item.donation_id, user_id=user_id, amount_minor=amount
        )
    except refunds.RefundRefused as exc:
        raise ActionRefused(str(exc)) from exc
    return f"refund requested ({refund_id})"


def _redesignate(item: ComplianceItem) -> str:
    assert item.donation_id is not None  # noqa: S101 -- an excessive item names a gift
    gift = Donation.objects.select_related("election").get(pk=item.donation_id)
    if item.election_id != gift.election_id:
        raise ActionRefused("Only the gift's first designation can move; refund the excess.")
    later = later_election(gift)
    if later is None:
        raise ActionRefused("There is no later election in this cycle: refund the excess.")
    if gift.split_election_id not in (None, later.pk):
        raise ActionRefused("This gift is already split to another election: refund instead.")
    if item.amount_minor > gift.election_minor:
        raise ActionRefused("The excess is more than this gift holds: refund it instead.")
    lock_donor(campaign_id=gift.campaign_id, donor_key=gift.donor_key, email=gift.email)
    limit = gift.campaign.election_limit
    held = donor_totals(
        campaign_id=gift.campaign_id, donor_key=gift.donor_key, email=gift.email
    ).election(later.pk)
    if limit is not None and held + item.amount_minor > limit:
        raise ActionRefused(f"The donor has no room for it in the {later.name}: refund it.")
    Donation.objects.filter(pk=gift.pk).update(
        election_minor=gift.election_minor - item.amount_minor,
        split_election=later,
        split_minor=gift.split_minor + item.amount_minor,
    )
    item.notice_due_at = timezone.now()
    money = format_money(item.amount_minor, gift.currency)
    return f"redesignated {money} to the {later.name}"


def send_due_notices() -> int:
    """Send each due redesignation notice once (claimed by a conditional update; a failed
    send releases the claim for the next run). Returns how many were sent."""
    sent = 0
    for item_id in ComplianceItem.objects.filter(notice_due_at__isnull=False).values_list(
        "pk", flat=True
    )[:200]:
        now = timezone.now()
        claimed = ComplianceItem.objects.filter(pk=item_id, notice_due_at__isnull=False).update(
            notice_due_at=None, notice_sent_at=now
        )
        if not claimed:
            continue
        item = ComplianceItem.objects.select_related("donation", "campaign", "election").get(
            pk=item_id
        )
        try:
            _notice(item).send()
        except Exception:
            log.exception("redesignation notice failed item_id=%s", item_id)
            ComplianceItem.objects.filter(pk=item_id).update(notice_due_at=now, notice_sent_at=None)
            continue
        sent += 1
    return sent


def _notice(item: ComplianceItem) -> EmailMessage:
    gift = item.donation
    assert gift is not None  # noqa: S101 -- an excessive item names a gift
    gift.refresh_from_db()
    later = gift.split_election
    money = format_money(item.amount_minor, gift.currency)
    body = (
        f"Thank you for your gift of {format_money(gift.amount_minor, gift.currency)} to "
        f"{item.campaign.name} (reference {gift.reference}).\n\n"
        f"It took your contributions for the {item.election.name if item.election else ''} past "
        f"the legal limit per election, so {money} of it has been designated to the "
        f"{later.name if later else 'next election'} instead.\n\n"
        "If you would rather have that amount refunded, reply to this email within 60 days "
        "and we will refund it.\n"
    )
    return EmailMessage(
        subject=f"About your contribution to {item.campaign.name}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[gift.email],
    )
