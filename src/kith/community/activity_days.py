"""The community's activity as daily counts per member and type, for marketing to score with.

Marketing never reads this database: the connection pulls these aggregates over the API and
keeps them on its side, keyed by Legacy Contact Key. Members without one cannot be matched to
a subscriber and are left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.clock import start_of_day
from kith.community.models import ActivityEvent, ActivityType, Member
from kith.sql import utc_day


def member_lines(session: Session, *, chunk: int) -> Iterator[list[dict[str, Any]]]:
    """`{"member": legacy key, "joined_at": ...}` for every member with a legacy key."""
    rows = session.execute(
        select(Member.legacy_contact_key, Member.joined_at)
        .where(Member.legacy_contact_key.is_not(None))
        .order_by(Member.legacy_contact_key)
        .execution_options(yield_per=chunk)
    )
    for partition in rows.tuples().partitions():
        yield [{"member": key, "joined_at": joined_at} for key, joined_at in partition]


def daily_lines(
    session: Session, *, since: date | None, now: datetime, chunk: int
) -> Iterator[list[dict[str, Any]]]:
    """`{"member", "day", "type", "count"}`: one line per member, UTC day and activity type
    with events from `since` (a day, inclusive) up to `now`, counted in one grouped query."""
    events = ActivityEvent.__table__.c
    day = utc_day(events.occurred_at)
    query = (
        select(Member.legacy_contact_key, day, ActivityType.name, func.count())
        .select_from(ActivityEvent)
        .join(Member, Member.id == events.member_id)
        .join(ActivityType, ActivityType.id == events.type_id)
        .where(Member.legacy_contact_key.is_not(None), events.occurred_at <= now)
        .group_by(Member.legacy_contact_key, day, ActivityType.name)
    )
    if since is not None:
        query = query.where(events.occurred_at >= start_of_day(since))
    rows = session.execute(query.execution_options(yield_per=chunk))
    for partition in rows.tuples().partitions():
        yield _daily(partition)


def _daily(rows: Sequence[tuple[str | None, str, str, int]]) -> list[dict[str, Any]]:
    return [
        {"member": key, "day": day, "type": type_name, "count": count}
        for key, day, type_name, count in rows
    ]
