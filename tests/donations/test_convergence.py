"""Events for one payment, in any order and with repeats, converge to one ledger state."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from donations.models import Donation
from donations.selectors import event_tally, ledger_tally
from tests.donations.factories import DonationFactory
from tests.support.stripe import receive, stripe_event

KINDS = [
    "succeeded",
    "failed",
    "refund_partial",
    "refund_full",
    "dispute_created",
    "dispute_won",
    "dispute_lost",
]


def make_event(kind: str, donation: Donation) -> dict:
    pi = donation.payment_id
    charge = {
        "id": f"ch_{donation.pk}",
        "object": "charge",
        "payment_intent": pi,
        "amount": 5_000,
        "currency": "usd",
        "paid": True,
    }
    dispute = {
        "id": f"dp_{donation.pk}",
        "object": "dispute",
        "payment_intent": pi,
        "amount": 5_000,
        "currency": "usd",
    }
    event_id = f"evt_{kind}_{pi}"
    if kind == "succeeded":
        obj = {"id": pi, "amount_received": 5_000, "currency": "usd", "latest_charge": charge["id"]}
        return stripe_event("payment_intent.succeeded", obj, event_id=event_id)
    if kind == "failed":
        obj = {"id": pi, "amount": 5_000, "currency": "usd"}
        return stripe_event("payment_intent.payment_failed", obj, event_id=event_id)
    if kind.startswith("refund"):
        refunded = 1_500 if kind == "refund_partial" else 5_000
        return stripe_event(
            "charge.refunded", {**charge, "amount_refunded": refunded}, event_id=event_id
        )
    if kind == "dispute_created":
        obj = {**dispute, "status": "needs_response"}
        return stripe_event("charge.dispute.created", obj, event_id=event_id)
    obj = {**dispute, "status": kind.removeprefix("dispute_")}
    return stripe_event("charge.dispute.closed", obj, event_id=event_id)


def state(donation: Donation) -> tuple:
    donation.refresh_from_db()
    return (
        donation.status,
        donation.net_minor,
        donation.refunded_minor,
        donation.dispute_state,
        donation.succeeded_seen,
    )


def apply_all(kinds: list[str]) -> tuple:
    donation = DonationFactory(gift_minor=5_000)
    for kind in kinds:
        receive(make_event(kind, donation))
    tally = event_tally(event_id=donation.event_id)
    ledger = ledger_tally(event_id=donation.event_id)
    assert (tally.raised_minor, tally.donors, tally.donations) == (
        ledger.raised_minor,
        ledger.donors,
        ledger.donations,
    )
    return state(donation)


# A dispute closes as won or lost, not both.
event_sets = st.sets(st.sampled_from(KINDS), min_size=1).filter(
    lambda s: not {"dispute_won", "dispute_lost"} <= s
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kinds=event_sets, data=st.data())
def test_any_order_with_repeats_converges_to_one_ledger_state(stripe_settings, kinds, data):
    in_order = sorted(kinds, key=KINDS.index)
    shuffled = data.draw(st.permutations(in_order))
    repeats = data.draw(st.lists(st.sampled_from(in_order), max_size=3))

    assert apply_all([*shuffled, *repeats]) == apply_all(in_order)
