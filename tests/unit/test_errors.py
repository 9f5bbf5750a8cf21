"""An error in words (kith.errors.describe): never empty, a domain error as it is, a database
error in the driver's words rather than SQLAlchemy's statement dump."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from kith.errors import InvalidInput, describe


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (InvalidInput("criteria.all[0]: unknown field 'x'"), "criteria.all[0]: unknown field 'x'"),
        (MemoryError(), "out of memory (MemoryError)"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply to handle"),
        (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
        (KeyError(), "KeyError"),
        (
            OperationalError(
                "SELECT ... [a thousand parameters]",
                {},
                sqlite3.OperationalError("too many SQL variables"),
            ),
            "OperationalError: too many SQL variables",
        ),
    ],
)
def test_an_error_is_described_in_a_few_words_never_empty(error: Exception, words: str) -> None:
    assert describe(error).startswith(words)
