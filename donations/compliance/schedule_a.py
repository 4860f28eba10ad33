"""Schedule A: a campaign's itemized receipts from individuals, as a CSV a treasurer can check
and as the SA11AI lines of an FEC electronic filing (`.fec`, format 8.4).

Which receipts: every paid gift of a donor whose aggregate in the gift's cycle (the calendar
year for a campaign without elections), net of refunds and disputes, passed the campaign's
itemization threshold by the end of the chosen date range. Donors are grouped as the limits
group them (donations.compliance.aggregates: the same identity key or the same email, taken
transitively here, so A~B~C is one donor).

The lines, in the order the gifts came, each gift's lines together:
- one line per designation (a split gift gives two: the second carries a memo saying it was
  redesignated from the first election with the donor's consent);
- a negative line per designation for what a refund took back, dated at the refund;
- a negative line per designation for what an open or lost dispute took (a chargeback), dated
  at the dispute. A won dispute takes nothing.
So the lines of a gift add up to its `net_minor`, and the file's total is the ledger's.

Each line carries the donor's running aggregate per election and per cycle (year) after it,
counting every earlier line of the cycle, inside the date range or not. Dates are gift dates
(donations are dated as elections count days: America/New_York)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import DateTimeField, OuterRef, Q, Subquery

from donations.compliance.aggregates import counted_parts
from donations.models import DisputeState, Donation, ProviderEvent
from events.elections import Election, ElectionKind, gift_date
from events.models import Campaign

FEC_VERSION = "8.4"
FS = "\x1c"  # ASCII 28, the field separator of the FEC's format 8.x
SOFTWARE = "Pledgecast"

ELECTION_LETTER = {
    ElectionKind.PRIMARY: "P",
    ElectionKind.GENERAL: "G",
    ElectionKind.RUNOFF: "R",
    ElectionKind.SPECIAL: "S",
}


US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC",
    "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT",
    "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI",
    "wyoming": "WY", "puerto rico": "PR", "guam": "GU", "virgin islands": "VI",
    "american samoa": "AS", "northern mariana islands": "MP",
}  # fmt: skip


def fec_state(region: str, country: str) -> str:
    """The FEC's two-letter state: the USPS code of a US state or territory (typed as a code
    or a name), ZZ for an address abroad; what the donor typed when it is neither."""
    if country.strip().upper() not in ("", "US"):
        return "ZZ"
    text = " ".join(region.replace(".", " ").split())
    if len(text) == 2:
        return text.upper()
    return US_STATES.get(text.lower(), text)


def election_code(election: Election | None) -> str:
    """The FEC's code of an election: its letter and year (P2026, G2026, R2026, S2026)."""
    if election is None:
        return ""
    return f"{ELECTION_LETTER[ElectionKind(election.kind)]}{election.date.year}"


# A line's kind in its transaction id (the letter also separates the gift's id from the
# election's, so two ids never read alike).
LINE_LETTER = {"receipt": "A", "refund": "R", "chargeback": "C"}


@dataclass(frozen=True)
class Line:
    """One Schedule A line (minor units; negative for a refund or a chargeback)."""

    donation: Donation
    kind: str  # "receipt", "refund" or "chargeback"
    on: date
    election: Election | None
    amount_minor: int
    election_aggregate_minor: int
    cycle_aggregate_minor: int
    memo: str

    @property
    def transaction_id(self) -> str:
        """Unique within the file and stable across exports: the gift, the line's kind, and
        the designation it is for."""
        part = self.election.pk if self.election is not None else 0
        return f"PC{self.donation.pk}{LINE_LETTER[self.kind]}{part}"


def _donor_groups(campaign: Campaign) -> dict[int, int]:
    """Each paid gift's donor: the smallest gift id of its group (union-find over the identity
    key and the email)."""
    parent: dict[object, object] = {}

    def find(x: object) -> object:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rows = list(
        Donation.objects.filter(campaign=campaign, succeeded_seen=True)
        .order_by("pk")
        .values_list("pk", "donor_key", "email")
    )
    for _pk, key, email in rows:
        root = find(("e", email.lower()))
        if key:
            other = find(("k", key))
            if other != root:
                parent[other] = root
    first: dict[object, int] = {}
    groups: dict[int, int] = {}
    for pk, _key, email in rows:
        root = find(("e", email.lower()))
        groups[pk] = first.setdefault(root, pk)
    return groups


def _last_event(kind: str) -> Subquery:
    prefixes = {"refund": ("charge.refund", "refund."), "dispute": ("charge.dispute",)}[kind]
    match = Q()
    for prefix in prefixes:
        match |= Q(type__startswith=prefix)
    return Subquery(
        ProviderEvent.objects.filter(match, donation=OuterRef("pk"))
        .order_by("-received_at")
        .values("received_at")[:1],
        output_field=DateTimeField(),
    )


def _parts(donation: Donation, counted_minor: int) -> dict[int | None, int]:
    return dict(
        counted_parts(
            election_id=donation.election_id,
            election_minor=donation.election_minor,
            split_election_id=donation.split_election_id,
            split_minor=donation.split_minor,
            amount_minor=donation.amount_minor,
            counted_minor=counted_minor,
        )
    )


def _gift_lines(donation: Donation, elections: dict[int, Election]) -> list[Line]:
    """A gift's lines without aggregates (filled in by itemized_lines)."""
    received = gift_date(donation.succeeded_at or donation.created_at)
    whole = _parts(donation, donation.amount_minor)
    after_refund_minor = max(0, donation.amount_minor - donation.refunded_minor)
    after_refund = _parts(donation, after_refund_minor)
    disputed = (
        donation.disputed_minor
        if donation.dispute_state in (DisputeState.OPEN, DisputeState.LOST)
        else 0
    )
    after_dispute = _parts(donation, max(0, after_refund_minor - disputed))
    first = elections.get(donation.election_id) if donation.election_id else None
    lines: list[Line] = []

    def add(kind: str, on: date, election_id: int | None, minor: int, memo: str) -> None:
        if minor:
            election = elections.get(election_id) if election_id is not None else None
            lines.append(Line(donation, kind, on, election, minor, 0, 0, memo))

    for election_id, minor in whole.items():
        memo = ""
        if election_id is not None and election_id == donation.split_election_id:
            memo = (
                f"REDESIGNATION: excess over the {election_code(first)} limit designated to "
                f"{election_code(elections.get(election_id))} with the contributor's consent"
            )
        add("receipt", received, election_id, minor, memo)
    refunded_on = gift_date(getattr(donation, "refunded_at", None) or donation.updated_at)
    for election_id, minor in whole.items():
        add("refund", refunded_on, election_id, after_refund[election_id] - minor, "REFUND")
    disputed_on = gift_date(getattr(donation, "disputed_at", None) or donation.updated_at)
    for election_id, minor in after_refund.items():
        memo = f"CHARGEBACK (dispute {donation.dispute_state})"
        add("chargeback", disputed_on, election_id, after_dispute[election_id] - minor, memo)
    return lines


def _cycle(line: Line) -> int:
    return line.election.cycle if line.election is not None else line.on.year


def itemized_lines(
    *, campaign: Campaign, start: date | None = None, end: date | None = None
) -> Iterator[Line]:
    """The campaign's itemized Schedule A lines dated in [start, end], with aggregates-to-date,
    streamed from a server-side cursor (two passes: the donors' totals, then the lines)."""
    threshold = campaign.itemization_threshold or 0
    elections = {e.pk: e for e in Election.objects.filter(campaign=campaign)}
    groups = _donor_groups(campaign)
    gifts = (
        Donation.objects.filter(campaign=campaign, succeeded_seen=True)
        .annotate(refunded_at=_last_event("refund"), disputed_at=_last_event("dispute"))
        .order_by("created_at", "pk")
    )

    # Pass 1: each donor's net total per cycle through the end of the range.
    totals: dict[tuple[int, int], int] = defaultdict(int)
    for donation in gifts.iterator(chunk_size=2000):
        for line in _gift_lines(donation, elections):
            if end is None or line.on <= end:
                totals[groups[donation.pk], _cycle(line)] += line.amount_minor

    # Pass 2: the lines, with running aggregates.
    per_election: dict[tuple[int, int | None], int] = defaultdict(int)
    per_cycle: dict[tuple[int, int], int] = defaultdict(int)
    for donation in gifts.iterator(chunk_size=2000):
        donor = groups[donation.pk]
        for line in _gift_lines(donation, elections):
            cycle = _cycle(line)
            election_id = line.election.pk if line.election is not None else None
            per_election[donor, election_id] += line.amount_minor
            per_cycle[donor, cycle] += line.amount_minor
            if totals[donor, cycle] <= threshold:
                continue
            if (start is not None and line.on < start) or (end is not None and line.on > end):
                continue
            yield Line(
                donation=line.donation,
                kind=line.kind,
                on=line.on,
                election=line.election,
                amount_minor=line.amount_minor,
                election_aggregate_minor=per_election[donor, election_id],
                cycle_aggregate_minor=per_cycle[donor, cycle],
                memo=line.memo,
            )


# --- The CSV -------------------------------------------------------------------------------


def _money(minor: int) -> Decimal:
    """Dollars and cents, exactly (a Decimal: the CSV writes a negative one as a number)."""
    return Decimal(minor).scaleb(-2)


CSV_HEADER = [
    "transaction_id",
    "donation_reference",
    "line",
    "date",
    "amount",
    "election",
    "election_aggregate",
    "cycle_aggregate",
    "cycle",
    "last_name",
    "first_name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "country",
    "employer",
    "occupation",
    "memo",
    "dispute_state",
    "disputed_amount",
    "refunded_amount",
    "currency",
]


def csv_rows(lines: Iterator[Line]) -> Iterator[list[object]]:
    for line in lines:
        d = line.donation
        yield [
            line.transaction_id,
            d.reference,
            line.kind,
            line.on.isoformat(),
            _money(line.amount_minor),
            election_code(line.election),
            _money(line.election_aggregate_minor),
            _money(line.cycle_aggregate_minor),
            _cycle(line),
            d.last_name,
            d.first_name,
            d.address_line1,
            d.address_line2,
            d.city,
            d.region,
            d.postal_code,
            d.country,
            d.employer,
            d.occupation,
            line.memo,
            d.dispute_state,
            _money(d.disputed_minor),
            _money(d.refunded_minor),
            d.currency.upper(),
        ]


# --- The .fec file (format 8.4: HDR, then one SA11AI record per line) ----------------------


def _fec_field(value: object) -> str:
    """No separator, quote or line break inside a field."""
    return " ".join(str(value).replace(FS, " ").replace('"', "'").split())


def fec_record(fields: list[object]) -> str:
    return FS.join(_fec_field(f) for f in fields) + "\n"


def fec_header() -> str:
    """The HDR record: record type, "FEC", version, software name and version, report id,
    report number, comment."""
    return fec_record(["HDR", "FEC", FEC_VERSION, SOFTWARE, "1", "", "", "Schedule A export"])


# The Form 3 summary record's fields up to the one we fill (format 8.x has 93).
F3_FIELDS = 93
F3_ITEMIZED_TOTAL = 32  # col_a_individual_contributions_itemized
F3_COVERAGE = (15, 16)


def fec_summary(*, campaign: Campaign, committee_id: str, start: date | None,
                end: date | None, itemized_minor: int) -> str:  # fmt: skip
    """The F3N record a filing needs before its schedules (fecfile reads the first record
    after the header as the report): the committee, the coverage dates and the itemized
    total; the rest of the summary (cash on hand, disbursements) is the treasurer's software's."""
    fields: list[object] = [""] * F3_FIELDS
    fields[0:3] = ["F3N", committee_id, campaign.legal_name]
    fields[F3_COVERAGE[0]] = start.strftime("%Y%m%d") if start else ""
    fields[F3_COVERAGE[1]] = end.strftime("%Y%m%d") if end else ""
    fields[F3_ITEMIZED_TOTAL] = _money(itemized_minor)
    return fec_record(fields)


def fec_lines(
    *, campaign: Campaign, committee_id: str, start: date | None = None, end: date | None = None
) -> Iterator[str]:
    """The header, the F3N summary, then one SA11AI record per itemized line (the 45 fields
    of format 8.x). The summary's total needs the lines first: one more pass over the gifts."""
    total = sum(
        line.amount_minor for line in itemized_lines(campaign=campaign, start=start, end=end)
    )
    yield fec_header()
    yield fec_summary(
        campaign=campaign, committee_id=committee_id, start=start, end=end, itemized_minor=total
    )
    for line in itemized_lines(campaign=campaign, start=start, end=end):
        d = line.donation
        election = line.election
        fields: list[object] = [
            "SA11AI",
            committee_id,
            line.transaction_id,
            "",  # back reference transaction id
            "",  # back reference schedule name
            "IND",
            "",  # organization name
            d.last_name,
            d.first_name,
            "",  # middle name
            "",  # prefix
            "",  # suffix
            d.address_line1,
            d.address_line2,
            d.city,
            fec_state(d.region, d.country),
            d.postal_code,
            election_code(election),
            "" if election is not None else "NO ELECTION",
            line.on.strftime("%Y%m%d"),
            _money(line.amount_minor),
            _money(line.cycle_aggregate_minor),
            {"receipt": "", "refund": "Refund", "chargeback": "Chargeback"}[line.kind],
            d.employer,
            d.occupation,
            *[""] * 17,  # donor committee, donor candidate and conduit fields
            "",  # memo code: these amounts count in the totals
            line.memo,
            "",  # reference code
        ]
        yield fec_record(fields)
