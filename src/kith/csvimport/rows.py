"""Reading import rows: the header, numbered batches of rows, and the values in their cells."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar

from kith.csvimport.report import ImportReport
from kith.csvimport.timestamps import TimeParser
from kith.errors import InvalidInput

Row = Sequence[str]
T = TypeVar("T")
NumberedRow = tuple[int, Row]

# Rows handled per batch: one lookup query and one bulk write each; bounds the memory used.
BATCH_SIZE = 10_000
FIRST_DATA_LINE = 2  # the header is line 1


class RowRejected(Exception):
    """A row cannot be imported; the message is the reason reported for its line."""


@dataclass(frozen=True)
class Header:
    """Where the known columns sit in a file, and any other (custom) columns."""

    positions: dict[str, int]
    extra: dict[str, int]
    width: int

    def getter(self, columns: Sequence[str]) -> itemgetter[Any]:
        """Picks the cells of `columns` out of a row, as a tuple in that order."""
        return itemgetter(*(self.positions[name] for name in columns))


def read_header(rows: Iterator[Row], columns: Sequence[str]) -> Header:
    """Consume and check the header row, which names every one of `columns` in any order and
    case; other names are returned as `extra` columns."""
    try:
        names = [name.strip() for name in next(rows)]
    except StopIteration:
        expected = ",".join(columns)
        raise InvalidInput(f"the file is empty; expected a header row: {expected}") from None
    positions: dict[str, int] = {}
    extra: dict[str, int] = {}
    for index, name in enumerate(names):
        if not name:
            raise InvalidInput(f"column {index + 1} of the header has no name")
        known = name.lower()
        target, key = (positions, known) if known in columns else (extra, name)
        if key in target:
            raise InvalidInput(f"the header names the column {name!r} twice")
        target[key] = index
    missing = [name for name in columns if name not in positions]
    if missing:
        raise InvalidInput(
            f"the header lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(expected: {','.join(columns)})"
        )
    return Header(positions, extra, len(names))


def numbered_batches(rows: Iterator[Row]) -> Iterator[list[NumberedRow]]:
    """The rows after the header with their line numbers, BATCH_SIZE at a time."""
    numbered = enumerate(rows, start=FIRST_DATA_LINE)
    while batch := list(islice(numbered, BATCH_SIZE)):
        yield batch


def parsed_batches(
    rows: Iterator[Row], parse: Callable[[int, Row], T], report: ImportReport
) -> Iterator[list[T]]:
    """Each batch of rows parsed; blank lines skipped, rows `parse` refuses reported as rejected."""
    for batch in numbered_batches(rows):
        parsed = []
        for line, row in batch:
            if not row:
                continue  # a blank line
            try:
                parsed.append(parse(line, row))
            except RowRejected as reason:
                report.reject(line, str(reason))
        yield parsed


def check_width(row: Row, header: Header) -> None:
    if len(row) != header.width:
        raise RowRejected(f"expected {header.width} fields, found {len(row)}")


def optional_text(value: str, column: str, max_length: int | None = None) -> str | None:
    """A cell's text without surrounding blanks; an empty cell is None (NULL)."""
    text = value.strip()
    if not text:
        return None
    if max_length is not None and len(text) > max_length:
        raise RowRejected(f"{column} is longer than {max_length} characters")
    return text


def required_text(value: str, column: str, max_length: int | None = None) -> str:
    text = optional_text(value, column, max_length)
    if text is None:
        raise RowRejected(f"missing {column}")
    return text


def optional_time(value: str, column: str, parse: TimeParser) -> Any:
    """A date or datetime cell in stored form (see timestamps.py); an empty cell is None."""
    if not value or value.isspace():
        return None
    try:
        return parse(value)
    except ValueError as error:
        raise RowRejected(f"{column}: {error}") from None


_FLAGS = {"": False, "false": False, "0": False, "no": False, "true": True, "1": True, "yes": True}


def flag(value: str, column: str) -> bool:
    """true/false, 1/0, yes/no in any case; an empty cell is false."""
    try:
        return _FLAGS[value.strip().lower()]
    except KeyError:
        raise RowRejected(
            f"{column} must be true, false, 1, 0, yes, no or empty, not {value!r}"
        ) from None
