"""Report periods: the last N weeks (Monday to Sunday, UTC), the current one last."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from kith.errors import InvalidInput

MAX_WEEKS = 104


@dataclass(frozen=True)
class Weeks:
    """The Mondays starting the report's weeks; the last week is the one holding `today`."""

    starts: tuple[date, ...]
    today: date

    @classmethod
    def ending(cls, now: datetime, count: int) -> Weeks:
        if not 1 <= count <= MAX_WEEKS:
            raise InvalidInput(f"weeks must be between 1 and {MAX_WEEKS}, not {count}")
        today = now.date()
        monday = today - timedelta(days=today.weekday())
        return cls(tuple(monday - timedelta(weeks=count - 1 - i) for i in range(count)), today)

    @property
    def first(self) -> date:
        return self.starts[0]

    @property
    def labels(self) -> list[str]:
        return [start.isoformat() for start in self.starts]

    def index(self, day: date) -> int | None:
        """The position of the week holding `day`, or None when outside the period."""
        if day < self.first or day > self.today:
            return None
        return (day - self.first).days // 7

    def totals(self, counts: Iterable[tuple[date | str, int]]) -> list[int]:
        """Per week, the sum of (day, count) pairs (days as dates or 'YYYY-MM-DD')."""
        sums = [0] * len(self.starts)
        for day, count in counts:
            position = self.index(date.fromisoformat(day) if isinstance(day, str) else day)
            if position is not None:
                sums[position] += int(count or 0)
        return sums
