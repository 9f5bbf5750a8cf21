"""Time as a value: the current instant, and parsing of the dates and datetimes users type."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date or datetime; a naive value means UTC, a bare date means 00:00 UTC.

    Raises ValueError with the offending text.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty date")
    try:
        parsed = datetime.fromisoformat(
            value.replace("Z", "+00:00") if value.endswith("Z") else value
        )
    except ValueError:
        raise ValueError(f"unparseable date {text!r}") from None
    return as_utc(parsed)


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"unparseable date {text!r} (expected YYYY-MM-DD)") from None


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
