"""CSV that Kith writes for people to open in a spreadsheet: every CSV export is written here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

# A spreadsheet runs a cell beginning with one of these as a formula (`=HYPERLINK(...)`,
# `=cmd|' /C calc'!A0`, `@SUM(1+1)`); some first strip a leading tab or carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Streamed exports hand out this many rows at a time, so memory stays flat however long.
ROWS_PER_CHUNK = 1000


def spreadsheet_cell(value: object) -> object:
    """The value as a spreadsheet should show it, with formula injection neutralised.

    As OWASP advises, text beginning like a formula gets a leading single quote, which
    spreadsheets read as "this cell is text", and keeps the rest of its value. Only text is
    touched: the numbers Kith computes (counts, scores, a negative change) reach the writer as
    Python numbers and stay numbers. Anything that arrives as a string (names, emails, keys,
    labels, error messages) may come from people or their data, so it is treated as text even
    when it looks like a number: "-5" given as text comes out as "'-5".
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(columns: Sequence[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """A header line and a line per row (None is empty), ROWS_PER_CHUNK rows per piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for number, row in enumerate(rows, start=1):
        writer.writerow([spreadsheet_cell(value) for value in row])
        if number % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_text(columns: Sequence[str], rows: Iterable[Iterable[object]]) -> str:
    """The whole CSV in one string, for exports small enough to hold (reports)."""
    return "".join(csv_chunks(columns, rows))
