"""Import times in stored form: on SQLite, exactly the text that UTCDateTime binds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from kith.clock import parse_datetime
from kith.csvimport.timestamps import aware_time, sqlite_time
from kith.db import UTCDateTime

_DIALECT = sqlite.dialect()
_BIND = sqlite.DATETIME().bind_processor(_DIALECT)  # type: ignore[no-untyped-call]


def bound_by_sqlalchemy(value: datetime) -> str:
    """The text UTCDateTime stores on SQLite for this value."""
    assert _BIND is not None
    result = _BIND(UTCDateTime().process_bind_param(value, _DIALECT))
    assert isinstance(result, str)
    return result


offsets = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)
moments = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30))


@given(
    moment=moments,
    zone=offsets,
    separator=st.sampled_from(["T", " "]),
    micro=st.booleans(),
    spelling=st.sampled_from(["Z", "+00:00", "-00:00"]),
)
def test_sqlite_text_equals_what_utcdatetime_binds(
    moment: datetime, zone: timezone | None, separator: str, micro: bool, spelling: str
) -> None:
    value = moment.replace(tzinfo=zone) if micro else moment.replace(tzinfo=zone, microsecond=0)
    text = value.isoformat(separator)
    if zone is UTC:
        text = text.removesuffix("+00:00") + spelling

    assert sqlite_time(text) == bound_by_sqlalchemy(parse_datetime(text))
    assert aware_time(text) == parse_datetime(text)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("2026-06-01", "2026-06-01 00:00:00.000000"),
        (" 2026-06-01T10:00:00Z ", "2026-06-01 10:00:00.000000"),
        ("2026-06-01T10:00:00.5Z", "2026-06-01 10:00:00.500000"),
        ("2026-06-01T10:00:00,123456", "2026-06-01 10:00:00.123456"),
        ("20260601T100000Z", "2026-06-01 10:00:00.000000"),
        ("2026-06-01T10:00:00+00", "2026-06-01 10:00:00.000000"),
    ],
)
def test_less_common_iso_shapes_are_stored_exactly(text: str, stored: str) -> None:
    assert sqlite_time(text) == stored


@pytest.mark.parametrize("text", ["", "   ", "yesterday", "2026-02-30", "2026-06-01T25:00"])
def test_unparseable_times_raise_value_error_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="date"):
        sqlite_time(text)
    with pytest.raises(ValueError, match="date"):
        aware_time(text)
