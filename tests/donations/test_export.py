from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.utils import timezone

from donations.models import Donation
from events.exports import csv_cell
from events.models import Event, EventStatus
from tests.donations.factories import DonationFactory


def rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_staff_export_their_campaigns_donations_with_every_donor_field(client, staff_factory):
    donation = DonationFactory(
        employer="Analytical Engines Ltd", occupation="Mathematician", refcode="sms-1"
    )
    client.force_login(staff_factory(donation.campaign, role="viewer"))

    response = client.get(f"/donations/campaigns/{donation.campaign_id}/export.csv")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, row = rows(response)
    record = dict(zip(header, row, strict=True))
    assert (record["email"], record["employer"], record["occupation"], record["refcode"]) == (
        donation.email,
        "Analytical Engines Ltd",
        "Mathematician",
        "sms-1",
    )


def test_staff_get_a_404_for_another_campaigns_export(client, staff_factory):
    mine = DonationFactory()
    theirs = DonationFactory()
    client.force_login(staff_factory(mine.campaign))

    response = client.get(f"/donations/campaigns/{theirs.campaign_id}/export.csv")

    assert response.status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(client):
    donation = DonationFactory()

    response = client.get(f"/donations/campaigns/{donation.campaign_id}/export.csv")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_formula_like_cells_are_escaped(client, staff_factory):
    donation = DonationFactory(
        first_name='=HYPERLINK("http://evil.example","click")',
        last_name="+1+2",
        employer="@SUM(A1)",
        occupation="-3",
        display_name="\t=1",
    )
    client.force_login(staff_factory(donation.campaign))

    header, row = rows(client.get(f"/donations/campaigns/{donation.campaign_id}/export.csv"))

    record = dict(zip(header, row, strict=True))
    assert record["first_name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert record["last_name"] == "'+1+2"
    assert record["employer"] == "'@SUM(A1)"
    assert record["occupation"] == "'-3"
    assert record["display_name"] == "'\t=1"


def test_plain_cells_are_left_alone():
    assert [csv_cell(v) for v in ("Ada", 2500, "a=b")] == ["Ada", "2500", "a=b"]


def test_the_export_has_one_row_per_donation_after_the_header(client, staff_factory):
    first = DonationFactory()
    DonationFactory.create_batch(999, event=first.event)
    client.force_login(staff_factory(first.campaign))

    response = client.get(f"/donations/campaigns/{first.campaign_id}/export.csv")

    assert len(rows(response)) == 1_001


def test_the_export_says_whether_each_gift_is_monthly(client, staff_factory):
    once = DonationFactory()
    monthly = DonationFactory(event=once.event, interval="month", invoice_id="in_fake_000007")
    client.force_login(staff_factory(once.campaign, role="viewer"))

    response = client.get(f"/donations/campaigns/{once.campaign_id}/export.csv")

    header, *records = rows(response)
    by_id = {r[header.index("donation_id")]: dict(zip(header, r, strict=True)) for r in records}
    assert (by_id[str(once.pk)]["interval"], by_id[str(once.pk)]["invoice_id"]) == ("once", "")
    assert (by_id[str(monthly.pk)]["interval"], by_id[str(monthly.pk)]["invoice_id"]) == (
        "month",
        "in_fake_000007",
    )


def test_every_cell_of_the_export_is_quoted(client, staff_factory):
    donation = DonationFactory(first_name="Bob;=1+1;x")
    client.force_login(staff_factory(donation.campaign))

    response = client.get(f"/donations/campaigns/{donation.campaign_id}/export.csv")

    header, row = b"".join(response.streaming_content).decode().splitlines()
    assert header.startswith('"donation_id","created_at",')
    assert row.startswith(f'"{donation.pk}","')
    assert row.count('","') == header.count('","')
    # Quoted, and no part after a separator starts a formula.
    assert '"Bob;\'=1+1;x"' in row


def test_the_export_says_whether_each_gift_came_before_during_or_after_the_show(
    client, staff_factory
):
    first = DonationFactory(refcode="sms")
    event = first.event
    went = timezone.now() - timedelta(hours=2)
    ended = timezone.now() - timedelta(hours=1)
    Event.objects.filter(pk=event.pk).update(
        status=EventStatus.ENDED, went_live_at=went, ended_at=ended
    )
    second = DonationFactory(event=event, campaign=event.campaign)
    third = DonationFactory(event=event, campaign=event.campaign)
    for donation, at in ((first, went - timedelta(minutes=1)), (second, went),
                         (third, ended + timedelta(days=3))):  # fmt: skip
        Donation.objects.filter(pk=donation.pk).update(created_at=at)
    client.force_login(staff_factory(event.campaign, role="viewer"))

    header, *body = rows(client.get(f"/donations/campaigns/{event.campaign_id}/export.csv"))

    given = [dict(zip(header, row, strict=True))["given"] for row in body]
    assert given == ["before the show", "during the show", "after the show"]


def test_numbers_are_written_as_numbers_and_text_that_looks_like_one_is_escaped():
    from decimal import Decimal

    assert [csv_cell(v) for v in (Decimal("-50.00"), -3, "-3")] == ["-50.00", "-3", "'-3"]
