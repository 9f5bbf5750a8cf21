"""The sync report: community group syncs per week, what they added and removed, how many failed
or were held, and why list members were left out (for every community group, or one)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from kith.clock import start_of_day
from kith.marketing.groups.target_groups import get_group
from kith.marketing.models import SKIP_REASONS, SyncRun, SyncSkip, TargetGroup
from kith.marketing.reports.charts import weekly_chart
from kith.marketing.reports.render import CsvRow, weekly_rows
from kith.marketing.reports.weeks import Weeks
from kith.sql import utc_day

RUN_OUTCOMES = ("completed", "failed", "held")
FAILURES_SHOWN = 10
ALL_GROUPS = "all community groups"


@dataclass(frozen=True)
class Failure:
    group: str
    run: int
    status: str
    requested_at: datetime
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "requested_at": self.requested_at.isoformat()}


@dataclass(frozen=True)
class SyncReport:
    """Per week: runs by outcome, members added and removed, members left out by reason."""

    scope: str
    generated_at: datetime
    weeks: Weeks
    runs_by_week: dict[str, list[int]]
    added_by_week: list[int]
    removed_by_week: list[int]
    skips_by_week: dict[str, list[int]]
    failures: list[Failure]

    kind = "sync"

    @property
    def title(self) -> str:
        return f"Syncs: {self.scope}"

    @property
    def members_by_week(self) -> dict[str, list[int]]:
        return {"added": self.added_by_week, "removed": self.removed_by_week}

    def totals(self) -> dict[str, int]:
        runs = {outcome: sum(counts) for outcome, counts in self.runs_by_week.items()}
        return {
            "runs": sum(runs.values()),
            **runs,
            "added": sum(self.added_by_week),
            "removed": sum(self.removed_by_week),
            "skipped": sum(sum(counts) for counts in self.skips_by_week.values()),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.kind,
            "scope": self.scope,
            "generated_at": self.generated_at.isoformat(),
            "weeks": self.weeks.labels,
            "totals": self.totals(),
            "runs_by_week": self.runs_by_week,
            "added_by_week": self.added_by_week,
            "removed_by_week": self.removed_by_week,
            "skips_by_week": self.skips_by_week,
            "failures": [failure.as_json() for failure in self.failures],
        }

    def csv_rows(self) -> Iterator[CsvRow]:
        for name, value in self.totals().items():
            yield "totals", name, "", value
        weeks = self.weeks.labels
        yield from weekly_rows("runs_by_week", weeks, self.runs_by_week)
        yield from weekly_rows("members_by_week", weeks, self.members_by_week)
        yield from weekly_rows("skips_by_week", weeks, self.skips_by_week)
        for failure in self.failures:
            yield "failures", str(failure.run), failure.group, f"{failure.status}: {failure.error}"

    def charts(self) -> dict[str, str]:
        weeks = self.weeks.labels
        return {
            "runs": weekly_chart("Sync runs per week", weeks, self.runs_by_week, y_label="runs"),
            "members": weekly_chart(
                "Members added and removed per week",
                weeks,
                self.members_by_week,
                y_label="members",
                stacked=False,
            ),
            "skips": weekly_chart(
                "Members left out per week, by reason",
                weeks,
                self.skips_by_week,
                y_label="members left out",
            ),
        }


def sync_report(
    session: Session, *, now: datetime, group: str | None = None, weeks: int = 12
) -> SyncReport:
    """The report over the last `weeks` weeks, for one community group or all of them."""
    period = Weeks.ending(now, weeks)
    start, label = start_of_day(period.first), ALL_GROUPS
    runs_of: ColumnElement[bool] = true()
    skips_of: ColumnElement[bool] = true()
    if group is not None:
        found = get_group(session, group)
        runs_of, skips_of = SyncRun.group_id == found.id, SyncSkip.group_id == found.id
        label = found.name
    day = utc_day(SyncRun.requested_at)
    rows = session.execute(
        select(
            day, SyncRun.status, func.count(), func.sum(SyncRun.added), func.sum(SyncRun.removed)
        )
        .where(runs_of, SyncRun.requested_at >= start, SyncRun.requested_at <= now)
        .group_by(day, SyncRun.status)
    ).all()
    runs = {
        outcome: period.totals((d, n) for d, status, n, _, _ in rows if status == outcome)
        for outcome in RUN_OUTCOMES
    }
    skipped_day = utc_day(SyncSkip.recorded_at)
    skips = session.execute(
        select(skipped_day, SyncSkip.reason, func.count())
        .where(skips_of, SyncSkip.recorded_at >= start, SyncSkip.recorded_at <= now)
        .group_by(skipped_day, SyncSkip.reason)
    ).all()
    return SyncReport(
        scope=label,
        generated_at=now,
        weeks=period,
        runs_by_week=runs,
        added_by_week=period.totals((d, added) for d, _, _, added, _ in rows),
        removed_by_week=period.totals((d, removed) for d, _, _, _, removed in rows),
        skips_by_week={
            reason: period.totals((d, n) for d, why, n in skips if why == reason)
            for reason in SKIP_REASONS
        },
        failures=_failures(session, runs_of, start, now),
    )


def _failures(
    session: Session, runs_of: ColumnElement[bool], start: datetime, now: datetime
) -> list[Failure]:
    rows = session.execute(
        select(TargetGroup.name, SyncRun.id, SyncRun.status, SyncRun.requested_at, SyncRun.error)
        .join(TargetGroup, TargetGroup.id == SyncRun.group_id)
        .where(
            runs_of,
            SyncRun.status.in_(("failed", "held")),
            SyncRun.requested_at >= start,
            SyncRun.requested_at <= now,
        )
        .order_by(SyncRun.requested_at.desc(), SyncRun.id.desc())
        .limit(FAILURES_SHOWN)
    ).tuples()
    return [Failure(*row) for row in rows]
