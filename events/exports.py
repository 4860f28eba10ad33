"""CSV exports staff download (donations, registrations): one writer. Every cell is quoted, and
anything a spreadsheet would run as a formula (= + - @, a tab or a carriage return at the start
of the cell, or of any part of it after a `,` or `;`) gets a leading ' so it is shown as text
(CSV injection)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Row = Sequence[object]


# A separator a spreadsheet may split a cell on (`,`, or `;` in German or French locales),
# and what may follow it.
_PART = re.compile(r"([,;])(?=\s*[=+\-@\t\r])")


def csv_cell(value: object) -> str:
    """The text of one cell (str() of the value), with a ' before anything that would start a
    formula: the cell's start, and the start of any `,`- or `;`-separated part (a program that
    splits the cell on a separator must find no formula either). A number (int or Decimal, not
    text) is written as it is: -50.00 is a negative amount, never a formula."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    text = _PART.sub(r"\1'", str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    """A file that returns what is written, so csv.writer makes lines we can stream."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Row, rows: Iterable[Row]) -> Iterator[str]:
    """The header, then each row, as CSV lines (every cell quoted and made safe), lazily."""
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield writer.writerow([csv_cell(name) for name in header])
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def _download(response: HttpResponse | StreamingHttpResponse, filename: str) -> None:
    response["Content-Disposition"] = content_disposition_header(True, filename) or ""
    response["Cache-Control"] = "no-store"


def csv_response(filename: str, header: Row, rows: Iterable[Row]) -> HttpResponse:
    """A CSV download built in memory (small exports; what an admin action must return)."""
    response = HttpResponse("".join(csv_lines(header, rows)), content_type=CONTENT_TYPE)
    _download(response, filename)
    return response


def streaming_csv_response(
    filename: str, header: Row, rows: Iterable[Row]
) -> StreamingHttpResponse:
    """A CSV download streamed row by row as `rows` yields them (large exports: pass an
    iterator over a server-side cursor, and memory stays flat)."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type=CONTENT_TYPE)
    _download(response, filename)
    return response
