"""Live lists: every Custom User List's members kept current, pass by pass, with a change log.

A pass (`maintain_lists`) brings each list to the instant `now`. It re-evaluates a list's
criteria only for the members who may have moved since the list's last pass:
- those whose record changed (any list: keys and email are what the log carries), whose
  memberships changed (lists that test membership) or who had activity recorded of a type the
  list counts — noted by database triggers whoever writes (kith.community.models.MemberChange);
- those with events whose time has come since (events dated in the future start counting
  then), with events that left an activity window (`within_days`) since, or whose date field
  left a `within_days` window since.
A list evaluated for the first time, after an edit of its criteria, or at an instant before
its last pass is evaluated in full. After every pass each list's members are exactly what a
full evaluation of its criteria gives at that instant (the property tests check it).

Each difference is logged in `list_changes` with an increasing `seq`: `removed` with the keys
and email the member was taken in with, then `added` with the current ones, so a reader of
the log after a cursor (`changes_after`) ends where a full read at the log's end would. A
list's first evaluation logs nothing (readers start from a full read and its cursor); changes
older than the retention are pruned, and a cursor from before them is Gone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Row,
    Select,
    SmallInteger,
    String,
    Table,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    union,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kith.community.criteria import (
    Activity,
    All,
    Any_,
    FieldTest,
    InvalidCriteria,
    MemberOf,
    Node,
    Not,
    Vocabulary,
    compile_criteria,
    parse_criteria,
)
from kith.community.models import (
    ActivityEvent,
    CustomUserList,
    ListChange,
    ListMember,
    Member,
    MemberChange,
)
from kith.db import Database
from kith.errors import KithError

log = logging.getLogger(__name__)

RECORD, MEMBERSHIPS, ACTIVITY = 1, 2, 3  # MemberChange.aspect
KEYS = ("contact_key", "legacy_contact_key", "email")  # what a list member is taken in with
# A page of changes' columns, in this order (not the time of each, which nobody reads)
PAGE_COLUMNS = ("seq", "change", "member_id", *KEYS)
# Two passes never run at once on PostgreSQL (SQLite's writers take turns anyway).
PASS_LOCK = 0x6B697468  # "kith"

_staging = MetaData()
Changed = Table(
    "kith_changed_members",
    _staging,
    Column("member_id", Integer),
    Column("aspect", SmallInteger),
    Column("detail", Integer),
    prefixes=["TEMPORARY"],
)
Difference = Table(
    "kith_list_difference",
    _staging,
    Column("member_id", Integer),
    Column("change", String(10)),
    Column("contact_key", String(100)),
    Column("legacy_contact_key", String(100)),
    Column("email", String(320)),
    prefixes=["TEMPORARY"],
)


class Gone(KithError):
    """A cursor from before the oldest change still kept: read the list in full again."""

    http_status = 410


@dataclass(frozen=True)
class Dependencies:
    """What a list's members can depend on, beyond each member's own record."""

    memberships: bool = False
    activity: bool = False
    activity_types: frozenset[int] | None = frozenset()  # None: every type
    # (the types counted, None for every type; the window in days)
    activity_windows: frozenset[tuple[frozenset[int] | None, int]] = frozenset()
    date_windows: frozenset[tuple[str, int]] = frozenset()  # (member date field, days)


def dependencies(node: Node) -> Dependencies:
    """What the criteria tree `node` reads, whatever the polarity it reads it with."""
    if isinstance(node, All | Any_):
        return _merged([dependencies(child) for child in node.children])
    if isinstance(node, Not):
        return dependencies(node.child)
    if isinstance(node, MemberOf):
        return Dependencies(memberships=True)
    if isinstance(node, Activity):
        types = frozenset(node.type_ids) if node.type_ids is not None else None
        windows = frozenset({(types, node.within_days)}) if node.within_days else frozenset()
        return Dependencies(activity=True, activity_types=types, activity_windows=windows)
    if isinstance(node, FieldTest) and node.op == "within_days":
        return Dependencies(date_windows=frozenset({(node.field, node.value)}))
    return Dependencies()


def _merged(parts: Sequence[Dependencies]) -> Dependencies:
    types: frozenset[int] | None = frozenset()
    for part in parts:
        if part.activity:
            types = (
                None
                if types is None or part.activity_types is None
                else (types | part.activity_types)
            )
    return Dependencies(
        memberships=any(part.memberships for part in parts),
        activity=any(part.activity for part in parts),
        activity_types=types,
        activity_windows=frozenset().union(*(part.activity_windows for part in parts)),
        date_windows=frozenset().union(*(part.date_windows for part in parts)),
    )


@dataclass
class PassReport:
    """What a pass did: members added and removed per list (by key), lists evaluated in full,
    and lists it could not evaluate (with why), which keep their members as they were."""

    now: datetime
    added: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    full: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def keep_lists_current(db: Database, *, now: datetime, retention: timedelta) -> PassReport:
    """A pass in a transaction of its own."""
    with db.transaction() as session:
        return maintain_lists(session, now=now, retention=retention)


def maintain_lists(session: Session, *, now: datetime, retention: timedelta) -> PassReport:
    """One pass over every list, in the caller's write transaction (see the module's doc)."""
    report = PassReport(now)
    connection = session.connection()
    hold_passes(session)
    _staging.drop_all(connection)
    _staging.create_all(connection)
    _take_member_changes(session)
    vocabulary = Vocabulary.load(session)
    lists = session.scalars(select(CustomUserList).order_by(CustomUserList.id)).all()
    for custom_list in lists:
        try:
            with session.begin_nested():
                _keep_current(session, custom_list, vocabulary, now, report)
        except (InvalidCriteria, SQLAlchemyError) as error:  # a community it names removed ...
            report.failed[custom_list.list_key] = str(error)
            log.warning("list %s was not kept current: %s", custom_list.list_key, error)
            custom_list.evaluated_at = None  # the changes this pass took are lost to it
    _prune(session, lists, now - retention)
    _staging.drop_all(connection)
    return report


def hold_passes(session: Session) -> None:
    """Wait for a pass under way, and keep the next from starting until this transaction ends.

    A pass takes this first; so does an edit of a list's criteria, or on PostgreSQL a pass that
    had read the old criteria could end after the edit and mark the list evaluated, losing the
    edit's call for a full evaluation. SQLite's write lock already serializes them.
    """
    if session.connection().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(PASS_LOCK)))


def _take_member_changes(session: Session) -> None:
    """Move the members noted as changed into the pass's own table (each once)."""
    noted = MemberChange
    distinct = (noted.member_id, noted.aspect, noted.detail)
    if session.connection().dialect.name == "postgresql":
        taken = delete(noted).returning(*distinct).cte("taken")
        session.execute(
            insert(Changed).from_select(["member_id", "aspect", "detail"], select(taken).distinct())
        )
        return
    # SQLite: this transaction holds the write lock, so no change is noted meanwhile
    session.execute(
        insert(Changed).from_select(["member_id", "aspect", "detail"], select(*distinct).distinct())
    )
    session.execute(delete(noted))


def _keep_current(
    session: Session,
    custom_list: CustomUserList,
    vocabulary: Vocabulary,
    now: datetime,
    report: PassReport,
) -> None:
    node = parse_criteria(custom_list.criteria, vocabulary)
    last = custom_list.evaluated_at
    if last is None or now < last:
        candidates = None
        report.full.append(custom_list.list_key)
    else:
        candidates = _candidates(dependencies(node), vocabulary, last=last, now=now)
        if not session.scalar(select(candidates.exists())):  # nobody can have moved
            custom_list.evaluated_at = now
            return
    condition = compile_criteria(node, now=now, vocabulary=vocabulary, few=candidates is not None)
    session.execute(delete(Difference))
    _find_difference(session, custom_list.id, condition, candidates)
    removed, added = _apply_difference(
        session, custom_list, logged=custom_list.materialized_at is not None, now=now
    )
    if custom_list.materialized_at is None:
        # readers start from a full read; a cursor from before it cannot be followed
        custom_list.materialized_at = now
        custom_list.changes_pruned_through = session.scalar(select(func.max(ListChange.seq))) or 0
    custom_list.evaluated_at = now
    if removed:
        report.removed[custom_list.list_key] = removed
    if added:
        report.added[custom_list.list_key] = added


def _candidates(
    needs: Dependencies, vocabulary: Vocabulary, *, last: datetime, now: datetime
) -> Select[tuple[int]]:
    """The members who may have moved in or out of a list with these dependencies since its
    last pass at `last`."""
    changed = Changed.c
    parts: list[Select[tuple[int]]] = [select(changed.member_id).where(changed.aspect == RECORD)]
    if needs.memberships:
        parts.append(select(changed.member_id).where(changed.aspect == MEMBERSHIPS))
    if needs.activity:
        noted = changed.aspect == ACTIVITY
        if needs.activity_types is not None:
            noted = noted & changed.detail.in_(sorted(needs.activity_types))
        parts.append(select(changed.member_id).where(noted))
        # events whose time came since the last pass (dated in the future when recorded)
        parts.append(_events_between(needs.activity_types, vocabulary, last, now))
        for types, days in needs.activity_windows:  # events that left the window since
            window = timedelta(days=days)
            parts.append(_events_between(types, vocabulary, last - window, now - window))
    for name, days in needs.date_windows:  # dates that left the window since
        column = getattr(Member, name)
        window = timedelta(days=days)
        parts.append(select(Member.id).where(column >= last - window, column < now - window))
    if len(parts) == 1:
        return parts[0]
    return select(union(*parts).subquery().c.member_id)


def _events_between(
    types: frozenset[int] | None, vocabulary: Vocabulary, start: datetime, end: datetime
) -> Select[tuple[int]]:
    """Members with events of `types` (None: any) that happened after `start`, up to `end`.
    Naming every type lets the (type, occurred_at) index serve "any type" too."""
    events = ActivityEvent.__table__.c
    type_ids = sorted(types if types is not None else vocabulary.activity_types.values())
    return select(events.member_id).where(
        events.type_id.in_(type_ids), events.occurred_at > start, events.occurred_at <= end
    )


def _same_keys(left: Any, right: Any) -> list[ColumnElement[bool]]:
    return [getattr(left, key).is_not_distinct_from(getattr(right, key)) for key in KEYS]


def _find_difference(
    session: Session,
    list_id: int,
    condition: ColumnElement[bool],
    candidates: Select[tuple[int]] | None,
) -> None:
    """Stage who leaves the list (as held) and who joins it (as they are now), among the
    candidates (None: every member), both against the list as it stands."""
    held = ListMember
    matches_now = exists().where(Member.id == held.member_id, condition, *_same_keys(Member, held))
    leaving = select(held.member_id, literal("removed"), *(getattr(held, key) for key in KEYS))
    leaving = leaving.where(held.list_id == list_id, ~matches_now)
    holds = exists().where(
        held.list_id == list_id, held.member_id == Member.id, *_same_keys(held, Member)
    )
    joining = select(Member.id, literal("added"), *(getattr(Member, key) for key in KEYS))
    joining = joining.where(condition, ~holds)
    if candidates is not None:
        leaving = leaving.where(held.member_id.in_(candidates))
        joining = joining.where(Member.id.in_(candidates))
    columns = ["member_id", "change", *KEYS]
    session.execute(insert(Difference).from_select(columns, leaving))
    session.execute(insert(Difference).from_select(columns, joining))


def _apply_difference(
    session: Session, custom_list: CustomUserList, *, logged: bool, now: datetime
) -> tuple[int, int]:
    """The staged difference applied to the list (and logged, unless `logged` is False);
    (removed, added)."""
    difference = Difference.c
    list_id = custom_list.id
    if logged:
        session.execute(
            insert(ListChange).from_select(
                ["list_id", "member_id", "change", *KEYS, "changed_at"],
                select(
                    literal(list_id),
                    difference.member_id,
                    difference.change,
                    *(difference[key] for key in KEYS),
                    literal(now, ListChange.changed_at.type),
                ).order_by(difference.change.desc(), difference.member_id),  # removed first
            )
        )
    leaving = select(difference.member_id).where(difference.change == "removed")
    removed = _count(session, leaving)
    session.execute(
        delete(ListMember).where(ListMember.list_id == list_id, ListMember.member_id.in_(leaving))
    )
    joining = select(literal(list_id), difference.member_id, *(difference[key] for key in KEYS))
    joining = joining.where(difference.change == "added")
    added = _count(session, joining)
    session.execute(insert(ListMember).from_select(["list_id", "member_id", *KEYS], joining))
    return removed, added


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _prune(session: Session, lists: Sequence[CustomUserList], before: datetime) -> None:
    """Forget each list's changes logged before `before`; the list remembers the last one it
    forgot. A log runs in the order of time, so a list whose oldest change is recent costs one
    index seek, not a read of its log (at every pass)."""
    for custom_list in lists:
        logged = ListChange.list_id == custom_list.id
        oldest = session.scalar(
            select(ListChange.changed_at).where(logged).order_by(ListChange.seq).limit(1)
        )
        if oldest is None or oldest >= before:
            continue
        seq = session.scalar(
            select(func.max(ListChange.seq)).where(logged, ListChange.changed_at < before)
        )
        if seq is None:
            continue
        custom_list.changes_pruned_through = max(custom_list.changes_pruned_through, seq)
        session.execute(delete(ListChange).where(logged, ListChange.seq <= seq))


# -- reading ----------------------------------------------------------------------------------


def list_cursor(session: Session, custom_list: CustomUserList) -> int:
    """Where the list's change log ends: a reader of its members now continues from here."""
    last = session.scalar(
        select(func.max(ListChange.seq)).where(ListChange.list_id == custom_list.id)
    )
    return max(last or 0, custom_list.changes_pruned_through)


@dataclass(frozen=True)
class ChangesPage:
    """Changes after a cursor in order, the cursor to ask from next, and whether more wait."""

    changes: Sequence[Row[Any]]  # plain rows of PAGE_COLUMNS
    cursor: int
    more: bool


def changes_after(
    session: Session, custom_list: CustomUserList, after: int, *, limit: int
) -> ChangesPage:
    """The list's changes after the cursor `after`, `limit` at most; Gone when some of them
    are no longer kept."""
    if after < custom_list.changes_pruned_through:
        raise Gone(
            f"cursor {after} of list {custom_list.list_key} is older than the changes kept "
            f"(from {custom_list.changes_pruned_through} on): read the list's members in full "
            "and continue from the cursor that read gives"
        )
    logged = ListChange.__table__.c  # rows, not objects: a page may hold thousands
    rows = session.execute(
        select(*(logged[name] for name in PAGE_COLUMNS))
        .where(logged.list_id == custom_list.id, logged.seq > after)
        .order_by(logged.seq)
        .limit(limit + 1)
    ).all()
    page = rows[:limit]
    cursor = page[-1].seq if page else max(after, list_cursor(session, custom_list))
    return ChangesPage(page, cursor, more=len(rows) > limit)


def held_rows(
    session: Session, list_id: int, columns: Sequence[ColumnElement[Any]], *, chunk: int
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The members the list holds, in id order, as tuples of `columns` (of `members`), `chunk`
    at a time, streamed from the database."""
    query = (
        select(*columns)
        .join(ListMember, ListMember.member_id == Member.id)
        .where(ListMember.list_id == list_id)
        .order_by(Member.id)
    )
    result = session.connection().execute(query.execution_options(yield_per=chunk))
    yield from result.tuples().partitions()
