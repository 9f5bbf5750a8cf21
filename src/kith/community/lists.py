"""List Builder's Custom User Lists: saved criteria, evaluated in SQL whenever they are read;
a list's own are its summary and the details of its members the API shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from kith.clock import as_utc, parse_datetime
from kith.community import saved_criteria
from kith.community.live_lists import hold_passes
from kith.community.models import (
    ActivityEvent,
    ActivityType,
    Community,
    CustomUserList,
    Membership,
)
from kith.community.saved_criteria import SavedKind

LISTS = SavedKind(
    model=CustomUserList,
    key=CustomUserList.list_key,
    key_prefix="cul_",
    title="Custom User List",
    what="list",
    changes="create, edit or delete lists",
)


@dataclass(frozen=True)
class ListSummary:
    list_key: str
    name: str
    created_at: datetime
    updated_at: datetime
    member_count: int | None  # None when not counted
    error: str | None = None  # why the list could not be counted, when it could not

    def as_json(self) -> dict[str, Any]:
        """As the API and `lists list --json` show it."""
        return {
            "key": self.list_key,
            "name": self.name,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "member_count": self.member_count,
            "error": self.error,
        }


@dataclass(frozen=True)
class ActivitySummary:
    count: int
    count_30d: int
    last_at: datetime


def get_list(session: Session, key_or_name: str) -> CustomUserList:
    """A list by its key, or else by its exact name (names are unique ignoring case)."""
    return saved_criteria.find(session, LISTS, key_or_name)


def list_summaries(session: Session, *, now: datetime, counts: bool = True) -> list[ListSummary]:
    """Every list by name; with `counts`, each evaluated at `now` for its member count (or the
    error that stopped it, for that list alone)."""
    found = saved_criteria.all_saved(session, LISTS)
    return [
        ListSummary(
            list_key=item.list_key,
            name=item.name,
            created_at=item.created_at,
            updated_at=item.updated_at,
            member_count=count,
            error=error,
        )
        for item, count, error in saved_criteria.with_counts(session, found, now=now, counts=counts)
    ]


def create_list(
    session: Session, *, name: str, criteria: Any, by: str, now: datetime
) -> CustomUserList:
    return saved_criteria.create(session, LISTS, name=name, criteria=criteria, by=by, now=now)


def update_list(
    session: Session,
    key_or_name: str,
    *,
    by: str,
    now: datetime,
    name: str | None = None,
    criteria: Any = None,
) -> CustomUserList:
    """Rename a list or replace its criteria (its members are then evaluated in full at the
    next pass, which logs the difference); None keeps a value."""
    if criteria is not None:
        hold_passes(session)
    updated = saved_criteria.update(
        session, LISTS, key_or_name, by=by, now=now, name=name, criteria=criteria
    )
    if criteria is not None:
        updated.evaluated_at = None
    return updated


def delete_list(session: Session, key_or_name: str, *, by: str) -> CustomUserList:
    return saved_criteria.delete(session, LISTS, key_or_name, by=by)


def activity_summaries(
    session: Session, member_ids: Iterable[int], *, now: datetime
) -> dict[int, dict[str, ActivitySummary]]:
    """Per member and activity type: count all time, count in the last 30 days, last occurrence."""
    ids = list(member_ids)
    if not ids:
        return {}
    events = ActivityEvent.__table__.c
    recent = case((events.occurred_at >= now - timedelta(days=30), 1), else_=0)
    rows = session.execute(
        select(
            events.member_id,
            ActivityType.name,
            func.count(),
            func.sum(recent),
            func.max(events.occurred_at),
        )
        .join(ActivityType, ActivityType.id == events.type_id)
        .where(events.member_id.in_(ids), events.occurred_at <= now)
        .group_by(events.member_id, ActivityType.name)
    )
    summaries: dict[int, dict[str, ActivitySummary]] = {}
    for member_id, type_name, count, count_30d, last_at in rows.tuples():
        summaries.setdefault(member_id, {})[type_name] = ActivitySummary(
            count=count, count_30d=int(count_30d or 0), last_at=_aware(last_at)
        )
    return summaries


def community_names(session: Session, member_ids: Iterable[int]) -> dict[int, list[str]]:
    """Per member, the names of the communities they belong to, in name order."""
    ids = list(member_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Membership.member_id, Community.name)
        .join(Community, Community.id == Membership.community_id)
        .where(Membership.member_id.in_(ids))
        .order_by(Membership.member_id, Community.name)
    )
    names: dict[int, list[str]] = {}
    for member_id, name in rows.tuples():
        names.setdefault(member_id, []).append(name)
    return names


def _aware(value: Any) -> datetime:
    """func.max() may come back as SQLite's stored text; read it as a UTC datetime."""
    return parse_datetime(value) if isinstance(value, str) else as_utc(value)
