"""Dates and times in import rows, parsed straight into the form the backend stores.

PostgreSQL takes timezone-aware datetimes. SQLite stores kith.db.UTCDateTime values as naive UTC
text ("2025-07-21 01:04:52.000000"); producing that text by slicing the common ISO shapes, once
datetime.fromisoformat has vouched for them, is several times cheaper than formatting a
datetime, and on a ten-million-event import that is most of the per-row work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from kith.clock import parse_datetime

StoredTime = datetime | str
# Parses ISO 8601 text (a naive value means UTC, a bare date 00:00 UTC); raises ValueError.
TimeParser = Callable[[str], Any]

_fromisoformat = datetime.fromisoformat


def time_parser(session: Session) -> TimeParser:
    """The parser giving this session's backend the form it stores."""
    return sqlite_time if session.get_bind().dialect.name == "sqlite" else aware_time


def aware_time(text: str) -> datetime:
    try:
        value = _fromisoformat(text)
    except ValueError:
        return parse_datetime(text)  # blanks around the value, or the message naming it
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_text(value: datetime) -> str:
    """A datetime as UTCDateTime stores it on SQLite (what SQLITE_DATETIME_FORMAT describes)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def sqlite_time(text: str) -> str:
    try:
        value = _fromisoformat(text)
    except ValueError:
        return sqlite_text(parse_datetime(text))
    zone = value.tzinfo
    if (zone is None or zone is UTC) and _is_common_shape(text):
        # YYYY-MM-DD?HH:MM:SS, then .ffffff or not, then Z / +00:00 when in UTC
        if text[19:20] == ".":
            return f"{text[:10]} {text[11:26]}"
        return f"{text[:10]} {text[11:19]}.000000"
    return sqlite_text(value)


# What may follow HH:MM:SS for the slicing above to be exact.
_COMMON_ENDINGS = frozenset(("", "Z", "+00:00", "-00:00"))


def _is_common_shape(text: str) -> bool:
    if len(text) < 19 or text[4] != "-" or text[7] != "-" or text[13] != ":" or text[16] != ":":
        return False
    ending = text[26:] if text[19:20] == "." and text[20:26].isdigit() else text[19:]
    return ending in _COMMON_ENDINGS
