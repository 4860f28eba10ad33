"""The CSV writer of the staff's exports (events.exports)."""

from __future__ import annotations

import csv
import io

from events.exports import csv_cell, csv_lines, csv_response, streaming_csv_response


def parsed(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


def test_every_cell_is_quoted():
    lines = list(csv_lines(["name", "amount_minor"], [["Ada", 2500], ["", None]]))

    assert lines == [
        '"name","amount_minor"\r\n',
        '"Ada","2500"\r\n',
        '"","None"\r\n',
    ]


def test_a_display_name_with_a_separator_and_a_formula_stays_one_neutral_cell():
    lines = list(csv_lines(["display_name"], [["Bob;=1+1;x"], ["=1+1;x"]]))

    assert lines[1:] == ['"Bob;\'=1+1;x"\r\n', '"\'=1+1;x"\r\n']
    assert parsed("".join(lines)) == [["display_name"], ["Bob;'=1+1;x"], ["'=1+1;x"]]


def test_no_part_of_a_cell_split_on_a_separator_starts_a_formula():
    # Read with ";" (German, French Excel) or "," as the separator, and without the quotes.
    for name in ("Bob;=1+1;x", "a,+1", "a; -2", "x;@SUM(A1)", "a,\t=1"):
        cell = csv_cell(name)
        for separator in ",;":
            for part in cell.split(separator):
                assert not part.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert csv_cell("Smith, Ann; 1-2") == "Smith, Ann; 1-2"  # nothing to guard


def test_cells_that_start_like_a_formula_get_a_leading_quote():
    starts = ["=SUM(A1)", "+1", "-3", "@SUM(A1)", "\t=1", "\r=1"]

    assert [csv_cell(v) for v in starts] == ["'" + v for v in starts]


def test_plain_cells_are_left_alone():
    assert [csv_cell(v) for v in ("Ada", 2500, "a=b", "", "1-2")] == [
        "Ada",
        "2500",
        "a=b",
        "",
        "1-2",
    ]


def test_quotes_and_line_breaks_inside_a_cell_survive_a_round_trip():
    body = "".join(csv_lines(["message"], [['She said "go"\nand went']]))

    assert parsed(body) == [["message"], ['She said "go"\nand went']]


def test_the_response_is_a_download_that_is_not_cached():
    response = csv_response("registrations.csv", ["name"], [["=evil()"]])

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="registrations.csv"'
    assert response["Cache-Control"] == "no-store"
    assert response.content == b'"name"\r\n"\'=evil()"\r\n'


def test_the_streaming_response_writes_rows_as_they_come():
    def rows():
        yield ["Ada"]
        raise AssertionError("read past the first row")

    response = streaming_csv_response("donations.csv", ["name"], rows())
    chunks = iter(response.streaming_content)

    assert response["Content-Disposition"] == 'attachment; filename="donations.csv"'
    assert (next(chunks), next(chunks)) == (b'"name"\r\n', b'"Ada"\r\n')
