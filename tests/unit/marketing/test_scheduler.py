"""When Waits end and when hourly syncs are due: plain date arithmetic, checked exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kith.marketing.campaigns.steps import wait_end
from kith.marketing.groups.sync_schedule import hourly_slot


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("step", "reached", "ends"),
    [
        ({"duration": {"days": 3}}, "2026-06-12 10:00", "2026-06-15 10:00"),
        ({"duration": {"hours": 1, "minutes": 30}}, "2026-06-12 23:00", "2026-06-13 00:30"),
        # Friday 10:00 -> the next Monday 09:00; on Monday at 09:00 itself -> a week on
        ({"until": {"weekday": 0, "at": "09:00:00"}}, "2026-06-12 10:00", "2026-06-15 09:00"),
        ({"until": {"weekday": 0, "at": "09:00:00"}}, "2026-06-15 09:00", "2026-06-22 09:00"),
        ({"until": {"weekday": 0, "at": "09:00:00"}}, "2026-06-15 08:00", "2026-06-15 09:00"),
        # day 31 skips the months without one; day 1 after the 1st is next month's
        ({"until": {"day": 31, "at": "08:00:00"}}, "2026-06-01 00:00", "2026-07-31 08:00"),
        ({"until": {"day": 1, "at": "00:00:00"}}, "2026-12-01 00:00", "2027-01-01 00:00"),
    ],
)
def test_a_wait_ends_after_its_duration_or_at_the_next_weekday_or_day(
    step: dict[str, object], reached: str, ends: str
) -> None:
    assert wait_end(step, at(reached)) == at(ends)


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
    st.integers(0, 59),
    st.sampled_from([n for n in range(1, 61) if 60 % n == 0]),
)
def test_the_hourly_slot_is_the_latest_scheduled_minute_at_or_before_now(
    naive: datetime, minute: int, interval: int
) -> None:
    now = naive.replace(tzinfo=UTC)
    slot = hourly_slot(now, minute=minute, interval=interval)
    assert slot <= now < slot + timedelta(minutes=interval)
    assert slot.second == slot.microsecond == 0
    assert (slot.minute - minute) % interval == 0


def test_an_interval_that_does_not_divide_the_hour_is_refused() -> None:
    from pydantic import ValidationError

    from kith.config import Settings

    with pytest.raises(ValidationError, match="must divide 60"):
        Settings(hourly_sync_interval_minutes=7)
