"""The Schedule A exports (donations.compliance.schedule_a): the CSV's lines and aggregates,
its date filter and scope, and the `.fec` file parsed back by the `fecfile` package."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import fecfile
import pytest
from django.utils import timezone

from donations.compliance.schedule_a import fec_state
from donations.models import Donation, ProviderEvent
from events.elections import gift_date
from tests.donations.factories import DonationFactory
from tests.factories import ElectionFactory, EventFactory

pytestmark = pytest.mark.django_db


def _paid(donation: Donation, *, days_ago: int, **facts) -> Donation:
    for name, value in {"succeeded_seen": True, **facts}.items():
        setattr(donation, name, value)
    donation.recompute_state()
    donation.save()
    at = timezone.now() - timedelta(days=days_ago)
    Donation.objects.filter(pk=donation.pk).update(created_at=at, succeeded_at=at)
    donation.refresh_from_db()
    return donation


@pytest.fixture
def ledger():
    """Donor A (two emails, one identity): $150 to the primary with $50 of it disputed, then
    $4,000 split 3,350 primary / 650 general with $100 refunded; donor C: $150, unitemized."""
    event = EventFactory(status="live", campaign__kind="federal_candidate")
    campaign = event.campaign
    primary = ElectionFactory(campaign=campaign, kind="primary", days=30)
    general = ElectionFactory(campaign=campaign, kind="general", days=120)
    a = {"event": event, "donor_key": "k-ada", "employer": "Engines Ltd", "occupation": "Analyst"}
    first = _paid(
        DonationFactory(**a, email="ada@one.example", gift_minor=15_000, election=primary,
                        election_minor=15_000),
        days_ago=10, dispute_state="open", disputed_minor=5_000,
    )  # fmt: skip
    second = _paid(
        DonationFactory(**a, email="ada@two.example", gift_minor=400_000, election=primary,
                        election_minor=335_000, split_election=general, split_minor=65_000),
        days_ago=5, refunded_minor=10_000,
    )  # fmt: skip
    _paid(
        DonationFactory(event=event, email="c@example.com", first_name="Cy", gift_minor=15_000,
                        election=primary, election_minor=15_000),
        days_ago=5,
    )  # fmt: skip
    return campaign, primary, general, first, second


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_csv_itemizes_designations_redesignations_refunds_and_disputes(
    client, staff_factory, ledger
):
    campaign, primary, general, first, second = ledger
    client.force_login(staff_factory(campaign, role="viewer"))

    response = client.get(f"/donations/campaigns/{campaign.pk}/schedule-a.csv")

    assert response.streaming
    rows = _csv(response)
    p, g = f"P{primary.date.year}", f"G{general.date.year}"
    got = [
        (r["donation_reference"], r["line"], r["amount"], r["election"],
         r["election_aggregate"], r["cycle_aggregate"])
        for r in rows
    ]  # fmt: skip
    assert got == [
        (first.reference, "receipt", "150.00", p, "150.00", "150.00"),
        (first.reference, "chargeback", "-50.00", p, "100.00", "100.00"),
        (second.reference, "receipt", "3350.00", p, "3450.00", "3450.00"),
        (second.reference, "receipt", "650.00", g, "650.00", "4100.00"),
        (second.reference, "refund", "-100.00", g, "550.00", "4000.00"),
    ]
    assert rows[3]["memo"].startswith(f"REDESIGNATION: excess over the {p} limit")
    assert (rows[0]["dispute_state"], rows[0]["disputed_amount"]) == ("open", "50.00")
    assert (rows[0]["employer"], rows[0]["occupation"]) == ("Engines Ltd", "Analyst")
    assert (
        sum(Decimal(r["amount"]) for r in rows) == Decimal(first.net_minor + second.net_minor) / 100
    )


def test_the_date_range_keeps_its_lines_with_aggregates_counting_earlier_ones(
    client, staff_factory, ledger
):
    campaign, *_, second = ledger
    client.force_login(staff_factory(campaign))
    day = gift_date(second.succeeded_at).isoformat()

    rows = _csv(client.get(f"/donations/campaigns/{campaign.pk}/schedule-a.csv",
                           {"start": day, "end": day}))  # fmt: skip

    assert [(r["donation_reference"], r["amount"], r["cycle_aggregate"]) for r in rows] == [
        (second.reference, "3350.00", "3450.00"),
        (second.reference, "650.00", "4100.00"),
    ]


def test_bad_filters_are_a_clear_400(client, staff_factory, ledger):
    campaign = ledger[0]
    client.force_login(staff_factory(campaign))
    url = f"/donations/campaigns/{campaign.pk}/schedule-a"

    bad_date = client.get(f"{url}.csv", {"start": "last tuesday"})
    backwards = client.get(f"{url}.csv", {"start": "2026-05-01", "end": "2026-04-01"})
    bad_id = client.get(f"{url}.fec", {"committee_id": "X123"})

    assert (bad_date.status_code, backwards.status_code, bad_id.status_code) == (400, 400, 400)
    assert "start must be a date as YYYY-MM-DD" in bad_date.content.decode()
    assert "start must be on or before end" in backwards.content.decode()
    assert "C and 8 digits" in bad_id.content.decode()


def test_another_campaigns_staff_get_a_404(client, staff_factory, ledger):
    campaign = ledger[0]
    client.force_login(staff_factory(EventFactory().campaign, role="owner"))

    for ext in ("csv", "fec"):
        response = client.get(f"/donations/campaigns/{campaign.pk}/schedule-a.{ext}")
        assert response.status_code == 404


def test_the_fec_file_parses_with_fecfile_and_totals_the_ledgers_itemized_gifts(
    client, staff_factory, ledger
):
    campaign, _, general, first, second = ledger
    client.force_login(staff_factory(campaign, role="viewer"))

    response = client.get(
        f"/donations/campaigns/{campaign.pk}/schedule-a.fec", {"committee_id": "c00123456"}
    )

    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    parsed = fecfile.loads(text)
    assert parsed["header"]["fec_version"] == "8.4"
    lines = parsed["itemizations"]["Schedule A"]
    assert {line["form_type"] for line in lines} == {"SA11AI"}
    assert {line["filer_committee_id_number"] for line in lines} == {"C00123456"}
    itemized = Donation.objects.filter(pk__in=[first.pk, second.pk])
    ledger_total = sum(d.net_minor for d in itemized) / 100
    assert sum(line["contribution_amount"] for line in lines) == pytest.approx(ledger_total)
    assert parsed["filing"]["col_a_individual_contributions_itemized"] == pytest.approx(
        ledger_total
    )
    assert parsed["filing"]["committee_name"] == campaign.legal_name
    split = next(line for line in lines if line["election_code"] == f"G{general.date.year}")
    assert (split["contributor_last_name"], split["contribution_amount"]) == ("Lovelace", 650.0)
    assert split["memo_text_description"].startswith("REDESIGNATION")
    assert len({line["transaction_id"] for line in lines}) == len(lines)


def test_the_donations_admin_links_each_campaigns_schedule_a(client, staff_factory, ledger):
    campaign = ledger[0]
    client.force_login(staff_factory(campaign, role="viewer"))

    page = client.get("/admin/donations/donation/").content.decode()

    assert f'href="/donations/campaigns/{campaign.pk}/schedule-a.csv"' in page
    assert f'href="/donations/campaigns/{campaign.pk}/schedule-a.fec"' in page


def test_the_fec_state_is_the_usps_code_or_zz_abroad():
    got = [
        fec_state(*a)
        for a in (("New  York", "US"), ("ny", ""), ("Ontario", "CA"), ("Narnia", "US"))
    ]
    assert got == ["NY", "NY", "ZZ", "Narnia"]


def test_a_refund_line_is_dated_by_its_refund_event(client, staff_factory, ledger):
    campaign, *_, second = ledger
    event = ProviderEvent.objects.create(
        event_id="evt_refund_1", type="charge.refunded", payload={}, donation=second
    )
    refunded = timezone.now() - timedelta(days=2)
    ProviderEvent.objects.filter(pk=event.pk).update(received_at=refunded)
    client.force_login(staff_factory(campaign))

    rows = _csv(client.get(f"/donations/campaigns/{campaign.pk}/schedule-a.csv"))

    refund = next(r for r in rows if r["line"] == "refund")
    assert refund["date"] == gift_date(refunded).isoformat()
