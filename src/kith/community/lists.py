"""List Builder's Custom User Lists: saved criteria, evaluated in SQL whenever they are read."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from kith.clock import as_utc, parse_datetime
from kith.community.criteria import Vocabulary, compile_criteria, parse_criteria
from kith.community.members import require_super_admin
from kith.community.models import (
    ActivityEvent,
    ActivityType,
    Community,
    CustomUserList,
    Member,
    Membership,
)
from kith.community.naming import unique_name
from kith.errors import NotFound

LIST_ACTION = "create, edit or delete lists"


@dataclass(frozen=True)
class ListSummary:
    list_key: str
    name: str
    created_at: datetime
    updated_at: datetime
    member_count: int | None  # None when not counted

    def as_json(self) -> dict[str, Any]:
        """As the API and `lists list --json` show it."""
        return {
            "key": self.list_key,
            "name": self.name,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "member_count": self.member_count,
        }


@dataclass(frozen=True)
class ActivitySummary:
    count: int
    count_30d: int
    last_at: datetime


def member_ids_query(session: Session, criteria: Any, *, now: datetime) -> Select[tuple[int]]:
    """The ids of the members a criteria tree selects, as one query (validated first)."""
    vocabulary = Vocabulary.load(session)
    node = parse_criteria(criteria, vocabulary)
    condition = compile_criteria(node, now=now, vocabulary=vocabulary)
    # In id order SQLite walks the members table itself, so per-member lookups into the
    # activity index come in index order too (2-3x faster than via a smaller index).
    return select(Member.id).where(condition).order_by(Member.id)


def count_members(session: Session, criteria: Any, *, now: datetime) -> int:
    ids = member_ids_query(session, criteria, now=now).subquery()
    return int(session.scalar(select(func.count()).select_from(ids)) or 0)


def preview(
    session: Session, criteria: Any, *, now: datetime, sample: int = 20
) -> tuple[int, list[Member]]:
    """How many members the criteria select, and the first few of them; nothing is saved."""
    ids = member_ids_query(session, criteria, now=now)
    first = session.scalars(
        select(Member).where(Member.id.in_(ids)).order_by(Member.id).limit(sample)
    )
    return count_members(session, criteria, now=now), list(first)


def get_list(session: Session, key_or_name: str) -> CustomUserList:
    """A list by its key, or else by its exact name (names are unique ignoring case)."""
    found = session.scalar(select(CustomUserList).where(CustomUserList.list_key == key_or_name))
    found = found or session.scalar(
        select(CustomUserList).where(func.lower(CustomUserList.name) == key_or_name.lower())
    )
    if found is None:
        raise NotFound(f"no Custom User List has the key or name {key_or_name!r}")
    return found


def all_lists(session: Session) -> Sequence[CustomUserList]:
    return session.scalars(select(CustomUserList).order_by(CustomUserList.name)).all()


def list_summaries(session: Session, *, now: datetime, counts: bool = True) -> list[ListSummary]:
    """Every list by name; with `counts`, each evaluated at `now` for its member count (which
    on a large community takes about a second a list)."""
    return [
        ListSummary(
            list_key=item.list_key,
            name=item.name,
            created_at=item.created_at,
            updated_at=item.updated_at,
            member_count=count_members(session, item.criteria, now=now) if counts else None,
        )
        for item in all_lists(session)
    ]


def create_list(
    session: Session, *, name: str, criteria: Any, by: str, now: datetime
) -> CustomUserList:
    author = require_super_admin(session, by, LIST_ACTION)
    name = _checked_name(session, name)
    member_ids_query(session, criteria, now=now)  # validates; raises InvalidCriteria
    created = CustomUserList(
        list_key=f"cul_{secrets.token_hex(6)}",
        name=name,
        criteria=criteria,
        created_by=author.contact_key,
        created_at=now,
        updated_by=author.contact_key,
        updated_at=now,
    )
    session.add(created)
    session.flush()
    return created


def update_list(
    session: Session,
    key_or_name: str,
    *,
    by: str,
    now: datetime,
    name: str | None = None,
    criteria: Any = None,
) -> CustomUserList:
    author = require_super_admin(session, by, LIST_ACTION)
    found = get_list(session, key_or_name)
    if name is not None and name.strip() != found.name:
        found.name = _checked_name(session, name, renaming=found)
    if criteria is not None:
        member_ids_query(session, criteria, now=now)
        found.criteria = criteria
    found.updated_by = author.contact_key
    found.updated_at = now
    session.flush()
    return found


def delete_list(session: Session, key_or_name: str, *, by: str) -> CustomUserList:
    require_super_admin(session, by, LIST_ACTION)
    found = get_list(session, key_or_name)
    session.delete(found)
    session.flush()
    return found


def member_page(
    session: Session,
    custom_list: CustomUserList,
    *,
    now: datetime,
    after_id: int | None = None,
    limit: int = 1000,
) -> list[Member]:
    """Up to `limit` members of the list with ids above `after_id`, in id order (keyset paging)."""
    ids = member_ids_query(session, custom_list.criteria, now=now)
    query = select(Member).where(Member.id.in_(ids))
    if after_id is not None:
        query = query.where(Member.id > after_id)
    return list(session.scalars(query.order_by(Member.id).limit(limit)))


def member_chunks(
    session: Session, custom_list: CustomUserList, *, now: datetime, chunk: int = 10_000
) -> Iterator[list[Member]]:
    """Every member of the list in id order, `chunk` at a time, from one evaluation.

    The rows stream from the database (a server-side cursor on PostgreSQL), so memory holds
    one chunk whatever the size of the list.
    """
    ids = member_ids_query(session, custom_list.criteria, now=now)
    query = select(Member).where(Member.id.in_(ids)).order_by(Member.id)
    for partition in session.scalars(query.execution_options(yield_per=chunk)).partitions():
        yield list(partition)
        for member in partition:  # keep the identity map to one chunk
            session.expunge(member)


def member_row_chunks(
    session: Session,
    custom_list: CustomUserList,
    columns: Sequence[ColumnElement[Any]],
    *,
    now: datetime,
    chunk: int = 10_000,
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """Every member of the list in id order as plain tuples of `columns` (of `members`),
    `chunk` at a time, from one evaluation: for bulk reads such as the API's member stream.

    A tuple costs a fifth of a Member object (no identity map, no instrumentation), and the
    criteria filter the table itself rather than an id list. Rows stream as member_chunks's do.
    """
    query = member_ids_query(session, custom_list.criteria, now=now).with_only_columns(*columns)
    result = session.connection().execute(query.execution_options(yield_per=chunk))
    yield from result.tuples().partitions()


def iter_members(
    session: Session, custom_list: CustomUserList, *, now: datetime, chunk: int = 10_000
) -> Iterator[Member]:
    """Every member of the list in id order (see member_chunks)."""
    for members in member_chunks(session, custom_list, now=now, chunk=chunk):
        yield from members


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


def _checked_name(session: Session, name: str, renaming: CustomUserList | None = None) -> str:
    return unique_name(
        session, CustomUserList, name, what="list", key="list_key", renaming=renaming
    )
