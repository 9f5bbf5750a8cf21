"""Adding subscribers to a static group and removing them, from CSV rows or API references.

A row names a subscriber by `remote_id` or, when that cell is empty, by `email`; unknown and
ambiguous references are rejected with their line. Only static groups change by hand:
community groups are the connection's, compound groups are computed, and grade groups are
kept by scoring (through `replace_members`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Subquery, delete, exists, insert, literal, select
from sqlalchemy.orm import Session

from kith.csvimport.bulk import BatchWriter, among, dialect_insert, is_sqlite
from kith.csvimport.report import ImportReport
from kith.csvimport.rows import Header, Row, RowRejected, check_width, parsed_batches, read_header
from kith.csvimport.timestamps import sqlite_text
from kith.db import affected
from kith.emails import InvalidEmail, email_key, normalize_email
from kith.errors import InvalidInput
from kith.marketing.models import GroupMember, Subscriber, TargetGroup

REFERENCE_COLUMNS = ("email", "remote_id")


@dataclass
class MembershipReport(ImportReport):
    """`imported` counts subscribers added (or removed); `duplicates` those already so."""

    removing: bool = False

    def as_json(self) -> dict[str, Any]:
        done, unchanged = (
            ("removed", "not_members") if self.removing else ("added", "already_members")
        )
        return {done: self.imported, unchanged: self.duplicates, "rejected": self.rejected}

    def summary(self) -> str:
        if self.removing:
            text = f"{self.imported} removed, {self.duplicates} were not members"
        else:
            text = f"{self.imported} added, {self.duplicates} already members"
        return f"{text}, {len(self.rejected)} rejected"


@dataclass(frozen=True)
class _Reference:
    line: int
    remote_id: str | None
    key: str | None  # the email key, when no remote_id is given


def change_members(
    session: Session,
    group: TargetGroup,
    rows: Iterable[Row],
    *,
    now: datetime,
    remove: bool = False,
    strict: bool = False,
) -> MembershipReport:
    """Add (or remove) the subscribers the rows name; the header names email, remote_id or both."""
    require_static(group, "remove members from" if remove else "add members to")
    stream = iter(rows)
    header = _reference_header(stream)
    report = MembershipReport(removing=remove)
    writer = BatchWriter(session, dialect_insert(session, GroupMember), _WRITTEN)
    added_at: Any = sqlite_text(now) if is_sqlite(session) else now
    for references in parsed_batches(stream, _ReferenceParser(header), report):
        ids = _resolve(session, references, report)
        members = (
            set(
                session.scalars(
                    select(GroupMember.subscriber_id).where(
                        GroupMember.group_id == group.id,
                        among(session, GroupMember.subscriber_id, ids),
                    )
                )
            )
            if ids
            else set()
        )
        changing = members if remove else set(ids) - members
        report.imported += len(changing)
        report.duplicates += len(ids) - len(changing)
        if remove and changing:
            session.execute(
                delete(GroupMember).where(
                    GroupMember.group_id == group.id,
                    among(session, GroupMember.subscriber_id, changing),
                )
            )
        elif changing:
            writer.write(
                [(group.id, subscriber_id, added_at) for subscriber_id in sorted(changing)]
            )
    return report.settle(strict=strict)


_WRITTEN = ("group_id", "subscriber_id", "added_at")
# psycopg 3 forgets a statement's count once its cursor closes
_COUNTED = {"preserve_rowcount": True}
# The members' table, for the statements that change many: the ORM would fetch every row
# deleted (to keep a session's objects in step, and no session holds these)
_MEMBERS = GroupMember.metadata.tables[GroupMember.__tablename__]


def require_static(group: TargetGroup, action: str) -> None:
    if group.kind == "community":
        raise InvalidInput(
            f"cannot {action} {group.name!r}: a community group is filled only by the connection"
            " from its community list"
        )
    if group.kind == "compound":
        raise InvalidInput(
            f"cannot {action} {group.name!r}: a compound group's members come from the groups it"
            " includes and excludes"
        )
    if group.kind == "scoring":
        raise InvalidInput(
            f"cannot {action} {group.name!r}: a grade group holds the subscribers with that"
            " grade, kept by recomputing scores"
        )


def replace_members(
    session: Session, group_id: int, wanted: Select[tuple[int]], *, now: datetime
) -> tuple[int, int]:
    """Make a group's members exactly the subscribers `wanted` selects (ids), in set-based SQL
    writing only the difference; returns (added, removed)."""
    chosen = wanted.subquery()
    subscriber_id = chosen.c[0]
    removed = affected(
        session.execute(
            delete(_MEMBERS).where(
                _MEMBERS.c.group_id == group_id,
                ~exists(
                    select(1).select_from(chosen).where(subscriber_id == _MEMBERS.c.subscriber_id)
                ),
            ),
            execution_options=_COUNTED,
        )
    )
    return _add_missing(session, group_id, chosen, now=now), removed


def update_members(
    session: Session,
    group_id: int,
    wanted: Select[tuple[int]],
    leaving: Select[tuple[int | None]],
    *,
    now: datetime,
) -> tuple[int, int]:
    """Change a group's members only where they may differ: add the subscribers `wanted`
    selects that it lacks, remove those `leaving` selects that `wanted` does not; returns
    (added, removed). In time proportional to the change, not to the group (a delta sync)."""
    chosen = wanted.subquery()
    gone = leaving.subquery()
    removed = affected(
        session.execute(
            delete(_MEMBERS).where(
                _MEMBERS.c.group_id == group_id,
                _MEMBERS.c.subscriber_id.in_(select(gone.c[0])),
                ~exists(select(1).where(chosen.c[0] == _MEMBERS.c.subscriber_id)),
            ),
            execution_options=_COUNTED,
        )
    )
    return _add_missing(session, group_id, chosen, now=now), removed


def _add_missing(session: Session, group_id: int, chosen: Subquery, *, now: datetime) -> int:
    """Add the subscribers `chosen` holds that the group lacks; how many."""
    subscriber_id = chosen.c[0]
    held = select(GroupMember.subscriber_id).where(
        GroupMember.group_id == group_id, GroupMember.subscriber_id == subscriber_id
    )
    return affected(
        session.execute(
            insert(GroupMember).from_select(
                _WRITTEN,
                select(literal(group_id), subscriber_id, literal(now, GroupMember.added_at.type))
                .select_from(chosen)
                .where(~exists(held)),
            ),
            execution_options=_COUNTED,
        )
    )


def _reference_header(stream: Any) -> Header:
    header = read_header(stream, ())
    positions = {name.lower(): index for name, index in header.extra.items()}
    if not set(REFERENCE_COLUMNS) & set(positions):
        raise InvalidInput("the header names neither an email nor a remote_id column")
    return Header(positions, {}, header.width)


class _ReferenceParser:
    def __init__(self, header: Header) -> None:
        self._header = header
        self._email = header.positions.get("email")
        self._remote_id = header.positions.get("remote_id")

    def __call__(self, line: int, row: Row) -> _Reference:
        check_width(row, self._header)
        remote_id = row[self._remote_id].strip() if self._remote_id is not None else ""
        if remote_id:
            return _Reference(line, remote_id, None)
        email = row[self._email].strip() if self._email is not None else ""
        if not email:
            raise RowRejected("names no subscriber: both email and remote_id are empty")
        try:
            return _Reference(line, None, email_key(normalize_email(email)))
        except InvalidEmail as error:
            raise RowRejected(str(error)) from None


def _resolve(session: Session, references: Sequence[_Reference], report: ImportReport) -> list[int]:
    """The subscriber id of each reference (two queries); unknown or ambiguous ones rejected."""
    remote_ids = {ref.remote_id for ref in references if ref.remote_id}
    keys = {ref.key for ref in references if ref.key}
    by_remote_id: dict[str, int] = {}
    by_key: dict[str, list[int]] = {}
    if remote_ids:
        query = select(Subscriber.remote_id, Subscriber.id).where(
            among(session, Subscriber.remote_id, remote_ids)
        )
        by_remote_id = {
            remote_id: id_ for remote_id, id_ in session.execute(query).tuples() if remote_id
        }
    if keys:
        sharing = select(Subscriber.email_key, Subscriber.id).where(
            among(session, Subscriber.email_key, keys)
        )
        for key, id_ in session.execute(sharing).tuples():
            by_key.setdefault(key, []).append(id_)
    ids: list[int] = []
    for ref in references:
        if ref.remote_id:
            found = by_remote_id.get(ref.remote_id)
            if found is None:
                report.reject(ref.line, f"no subscriber has the Remote ID {ref.remote_id!r}")
                continue
            ids.append(found)
            continue
        holders = by_key.get(ref.key or "", [])
        if len(holders) != 1:
            report.reject(
                ref.line,
                f"no subscriber has the email {ref.key!r}"
                if not holders
                else f"{len(holders)} subscribers have the email {ref.key!r}; give a remote_id",
            )
            continue
        ids.append(holders[0])
    return list(dict.fromkeys(ids))
