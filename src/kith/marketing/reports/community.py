"""The community-activity report, for a target group or for every synced member.

Members are subscribers with a Remote ID (in the group, when one is given); their activity is
the community's daily counts the connection pulled, joined by Remote ID. Active is as every report
says it (kith.marketing.reports.active).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from kith.marketing.groups.compound import members_condition
from kith.marketing.groups.target_groups import get_group
from kith.marketing.models import Subscriber
from kith.marketing.reports.active import ACTIVE_DAYS, active_in_community
from kith.marketing.reports.charts import Series, bar_chart, weekly_chart
from kith.marketing.reports.render import CsvRow, weekly_rows
from kith.marketing.reports.weeks import Weeks
from kith.marketing.scoring.model import active_model
from kith.marketing.scoring.models import CommunityActivityDay, CommunityMember, SubscriberScore
from kith.sql import utc_day

TOP_CONTRIBUTORS = 10
HISTOGRAM_BINS = 10
NO_GRADE = "no grade"
NOT_SCORED = "not scored"
ALL_MEMBERS = "all synced members"


@dataclass(frozen=True)
class Contributor:
    remote_id: str
    email: str
    name: str
    events: int
    score: int | None
    grade: str | None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ScoreBin:
    low: int
    high: int
    subscribers: int

    @property
    def label(self) -> str:
        return f"{self.low}" if self.low == self.high else f"{self.low}-{self.high}"


@dataclass(frozen=True)
class CommunityReport:
    """Activity by type per week, active and inactive members, top contributors, scores, new
    members per week: one structure, rendered as JSON, CSV and HTML (kith.marketing.reports)."""

    scope: str
    generated_at: datetime
    weeks: Weeks
    members: int
    active: int
    activity_by_week: dict[str, list[int]]
    new_members_by_week: list[int]
    top_contributors: list[Contributor]
    grades: dict[str, int]
    score_histogram: list[ScoreBin]

    kind = "community"

    @property
    def title(self) -> str:
        return f"Community activity: {self.scope}"

    @property
    def inactive(self) -> int:
        return self.members - self.active

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.kind,
            "scope": self.scope,
            "generated_at": self.generated_at.isoformat(),
            "weeks": self.weeks.labels,
            "members": self.members,
            "active": self.active,
            "inactive": self.inactive,
            "activity_by_week": self.activity_by_week,
            "new_members_by_week": self.new_members_by_week,
            "top_contributors": [item.as_json() for item in self.top_contributors],
            "grades": self.grades,
            "score_histogram": [
                {"low": b.low, "high": b.high, "subscribers": b.subscribers}
                for b in self.score_histogram
            ],
        }

    def csv_rows(self) -> Iterator[CsvRow]:
        yield from (
            ("summary", name, "", value)
            for name, value in (
                ("members", self.members),
                ("active", self.active),
                ("inactive", self.inactive),
            )
        )
        weeks = self.weeks.labels
        yield from weekly_rows("activity_by_week", weeks, self.activity_by_week)
        new = {"new members": self.new_members_by_week}
        yield from weekly_rows("new_members_by_week", weeks, new)
        for person in self.top_contributors:
            for field in ("email", "name", "events", "score", "grade"):
                yield "top_contributors", person.remote_id, field, getattr(person, field)
        for grade, count in self.grades.items():
            yield "grades", grade, "subscribers", count
        for item in self.score_histogram:
            yield "score_histogram", item.label, "subscribers", item.subscribers

    def charts(self) -> dict[str, str]:
        weeks = self.weeks.labels
        return {
            "activity": weekly_chart(
                "Activity by type per week", weeks, self.activity_by_week, y_label="events"
            ),
            "active": bar_chart(
                "Active and inactive members",
                ["active", "inactive"],
                [Series("members", [self.active, self.inactive])],
                x_label=f"activity in the last {ACTIVE_DAYS} days",
                y_label="members",
            ),
            "grades": bar_chart(
                "Members by grade",
                list(self.grades),
                [Series("subscribers", list(self.grades.values()))],
                x_label="grade",
                y_label="members",
            ),
            "histogram": bar_chart(
                "Score distribution",
                [item.label for item in self.score_histogram],
                [Series("subscribers", [item.subscribers for item in self.score_histogram])],
                x_label="score",
                y_label="members",
            ),
            "new_members": weekly_chart(
                "New members per week",
                weeks,
                {"new members": self.new_members_by_week},
                y_label="members who joined",
                line=True,
            ),
        }


def community_report(
    session: Session, *, now: datetime, group: str | None = None, weeks: int = 12
) -> CommunityReport:
    """The report over the last `weeks` weeks for the group's members (all synced members when
    no group is named)."""
    period = Weeks.ending(now, weeks)
    scope: ColumnElement[bool] = Subscriber.remote_id.is_not(None)
    label = ALL_MEMBERS
    if group is not None:
        found = get_group(session, group)
        scope, label = scope & members_condition(session, found), found.name
    members = session.scalar(select(func.count()).select_from(Subscriber).where(scope)) or 0
    return CommunityReport(
        scope=label,
        generated_at=now,
        weeks=period,
        members=members,
        active=_active(session, scope, now),
        activity_by_week=_activity_by_week(session, scope, period),
        new_members_by_week=_new_members(session, scope, period),
        top_contributors=_top_contributors(session, scope, period),
        grades=_grades(session, scope, members),
        score_histogram=_histogram(session, scope),
    )


def _in_scope(scope: ColumnElement[bool]) -> ColumnElement[bool]:
    """A condition on community_activity_days: the row is a member's in scope."""
    return CommunityActivityDay.remote_id.in_(select(Subscriber.remote_id).where(scope))


def _active(session: Session, scope: ColumnElement[bool], now: datetime) -> int:
    active = active_in_community(now)
    return session.scalar(select(func.count()).select_from(Subscriber).where(scope, active)) or 0


def _activity_by_week(
    session: Session, scope: ColumnElement[bool], period: Weeks
) -> dict[str, list[int]]:
    days = CommunityActivityDay
    rows = session.execute(
        select(days.activity_type, days.day, func.sum(days.count))
        .where(days.day >= period.first, days.day <= period.today, _in_scope(scope))
        .group_by(days.activity_type, days.day)
        .order_by(days.activity_type)
    ).tuples()
    by_type: dict[str, list[tuple[date, int]]] = {}
    for activity, day, count in rows:
        by_type.setdefault(activity, []).append((day, count))
    return {activity: period.totals(counts) for activity, counts in by_type.items()}


def _new_members(session: Session, scope: ColumnElement[bool], period: Weeks) -> list[int]:
    joined = CommunityMember
    day = utc_day(joined.joined_at)
    rows = session.execute(
        select(day, func.count())
        .where(
            joined.joined_at.is_not(None),
            joined.remote_id.in_(select(Subscriber.remote_id).where(scope)),
        )
        .group_by(day)
    ).tuples()
    return period.totals(rows)


def _top_contributors(
    session: Session, scope: ColumnElement[bool], period: Weeks
) -> list[Contributor]:
    days = CommunityActivityDay
    events = func.sum(days.count).label("events")
    rows = session.execute(
        select(
            Subscriber.remote_id,
            Subscriber.email,
            Subscriber.first_name,
            Subscriber.last_name,
            events,
            SubscriberScore.score,
            SubscriberScore.grade,
        )
        .select_from(days)
        .join(Subscriber, Subscriber.remote_id == days.remote_id)
        .outerjoin(SubscriberScore, SubscriberScore.subscriber_id == Subscriber.id)
        .where(scope, days.day >= period.first, days.day <= period.today)
        .group_by(
            Subscriber.id,
            Subscriber.remote_id,
            Subscriber.email,
            Subscriber.first_name,
            Subscriber.last_name,
            SubscriberScore.score,
            SubscriberScore.grade,
        )
        .order_by(events.desc(), Subscriber.remote_id)
        .limit(TOP_CONTRIBUTORS)
    ).tuples()
    return [
        Contributor(
            remote_id=str(remote_id),
            email=email,
            name=" ".join(part for part in (first, last) if part),
            events=int(count),
            score=score,
            grade=grade,
        )
        for remote_id, email, first, last, count, score, grade in rows
    ]


def _grades(session: Session, scope: ColumnElement[bool], members: int) -> dict[str, int]:
    """Members per grade, highest first, then those below every grade and those not scored."""
    counts = dict(
        session.execute(
            select(SubscriberScore.grade, func.count())
            .join(Subscriber, Subscriber.id == SubscriberScore.subscriber_id)
            .where(scope)
            .group_by(SubscriberScore.grade)
        )
        .tuples()
        .all()
    )
    model = active_model(session)
    grades = {grade.name: counts.pop(grade.name, 0) for grade in model.grades} if model else {}
    for name in sorted(key for key in counts if key is not None):  # grades of an older model
        grades[name] = counts.pop(name)
    grades[NO_GRADE] = counts.pop(None, 0)
    grades[NOT_SCORED] = members - sum(grades.values())
    return grades


def _histogram(session: Session, scope: ColumnElement[bool]) -> list[ScoreBin]:
    """Members per score range: HISTOGRAM_BINS ranges of equal width from 0 to the top score."""
    rows = (
        session.execute(
            select(SubscriberScore.score, func.count())
            .join(Subscriber, Subscriber.id == SubscriberScore.subscriber_id)
            .where(scope)
            .group_by(SubscriberScore.score)
        )
        .tuples()
        .all()
    )
    counts = dict(rows)
    if not counts:
        return []
    width = max(1, math.ceil((max(counts) + 1) / HISTOGRAM_BINS))
    bins = math.ceil((max(counts) + 1) / width)
    totals = [0] * bins
    for score, count in counts.items():
        totals[max(score, 0) // width] += count
    return [
        ScoreBin(index * width, (index + 1) * width - 1, total)
        for index, total in enumerate(totals)
    ]
