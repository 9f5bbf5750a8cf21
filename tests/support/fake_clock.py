"""A clock tests can set, for apps that read the time from `app.state.clock`."""

from __future__ import annotations

from datetime import datetime


class FakeClock:
    """Stands in for `app.state.clock`: the time is whatever the test sets."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
