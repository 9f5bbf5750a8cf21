"""A community group's list as its last sync staged it, and the delta sync's staging from it.

A full sync whose stream names the cursor of the list's change log keeps every staged row
(CommunityListMember) and the cursor on the group, in the transaction that applies the
membership. A delta sync stages those rows again, applies the changes after the cursor in
order (a member removed loses their row, a member added gets a new one), and then decides and
applies exactly as a full sync does: only the changes cross the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from kith.connection.client import ListChange
from kith.connection.incoming import ChangedMember, Incoming, SharedEmail, staged_row
from kith.connection.staging import batches
from kith.db import affected
from kith.marketing.models import CommunityListMember, TargetGroup

# The outcomes a row has when it is staged (steps 1 and 2), the only ones the mirror keeps
STAGED_OUTCOMES = ("missing_contact_key", "malformed_email")
# Incoming's columns and the mirror's, pairwise
_COLUMNS = (
    ("position", "position"),
    ("contact_key", "contact_key"),
    ("legacy_key", "legacy_contact_key"),
    ("email", "email"),
    ("email_key", "email_key"),
    ("outcome", "outcome"),
    ("normal_email", "normal_email"),
    ("normal_key", "normal_key"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("profile", "profile"),
)
_KEYS_AT_ONCE = 500


@dataclass(frozen=True)
class Staged:
    """What a run staged: `in_list` members, read in full or as a delta, and the cursor of the
    list's change log they stand at (None when the community named none)."""

    in_list: int
    cursor: int | None
    delta: bool


def stage_from_mirror(connection: Connection, group_id: int) -> int:
    """Stage the group's list as last synced; the next free position."""
    mirror = CommunityListMember.__table__.c
    connection.execute(
        insert(Incoming).from_select(
            [incoming for incoming, _ in _COLUMNS],
            select(*(mirror[kept] for _, kept in _COLUMNS)).where(mirror.group_id == group_id),
        )
    )
    last = connection.scalar(select(func.max(Incoming.c.position)))
    return 0 if last is None else last + 1


def apply_changes(
    connection: Connection, changes: Iterable[ListChange], *, position: int, platform: bool
) -> list[tuple[Any, ...]]:
    """Apply a page of changes to the staged rows: every member the page changes loses their
    row and is noted as changed; the staging rows of those whose last change is `added` are
    returned, for the caller to stage (positions from `position` on)."""
    last: dict[str, ListChange] = {}
    for change in sorted(changes, key=lambda change: change.seq):
        if change.member.contact_key is not None:
            last.pop(change.member.contact_key, None)  # kept in the order of their last change
            last[change.member.contact_key] = change
    for keys in batches(last, _KEYS_AT_ONCE):
        connection.execute(delete(Incoming).where(Incoming.c.contact_key.in_(keys)))
        connection.execute(delete(ChangedMember).where(ChangedMember.c.contact_key.in_(keys)))
        connection.execute(insert(ChangedMember), [{"contact_key": key} for key in keys])
    added = (change.member for change in last.values() if change.change == "added")
    return [staged_row(at, member, platform) for at, member in enumerate(added, start=position)]


def note_shared_emails(connection: Connection) -> None:
    """Step 3's candidates, once a delta is staged: the emails more than one undecided member
    has, found in SQL over the whole list (a full sync notes them as the stream goes by)."""
    incoming = Incoming.c
    connection.execute(
        insert(SharedEmail).from_select(
            ["email_key"],
            select(incoming.email_key)
            .where(incoming.outcome.is_(None))
            .group_by(incoming.email_key)
            .having(func.count() > 1),
        )
    )


def store_mirror(session: Session, group: TargetGroup, staged: Staged) -> None:
    """Keep what this run staged as the group's list, with its cursor: every row after a full
    read, only the changed members' after a delta. With no cursor nothing is kept, as no delta
    could follow it."""
    mirror = CommunityListMember
    incoming = Incoming.c
    changed = select(ChangedMember.c.contact_key)
    if staged.delta:
        session.execute(
            delete(mirror).where(mirror.group_id == group.id, mirror.contact_key.in_(changed))
        )
    else:
        session.execute(delete(mirror).where(mirror.group_id == group.id))
    group.list_cursor = staged.cursor
    if staged.cursor is None:
        return
    rows = select(
        literal(group.id),
        *(
            case((incoming.outcome.in_(STAGED_OUTCOMES), incoming.outcome))
            if name == "outcome"
            else incoming[name]
            for name, _ in _COLUMNS
        ),
    ).where(incoming.contact_key.is_not(None))
    if staged.delta:
        rows = rows.where(incoming.contact_key.in_(changed))
    kept = affected(
        session.execute(
            insert(mirror).from_select(["group_id", *(kept for _, kept in _COLUMNS)], rows)
        )
    )
    if not staged.delta and kept != staged.in_list:  # a member without a contact key
        session.execute(delete(mirror).where(mirror.group_id == group.id))
        group.list_cursor = None
