"""A community group's list as its last sync decided it, and what a delta sync decides again.

A sync whose stream names the cursor of the list's change log keeps every member it decided
(CommunityListMember: the staged row, its outcome and the subscriber it matched) and the cursor
on the group, in the transaction that applies the membership. A delta sync then decides again
only the members whose outcome may have changed:
- those the changes after the cursor name (joined: staged from the change; left: gone);
- those whose subscriber changed on the marketing side since the group's last sync
  (kith.marketing.subscriber_changes): the subscriber they matched, or the one whose Remote ID
  is now their legacy key;
- every member sharing an email with any of those, because `duplicate_email` ranks all the
  members of the current list who have that email: a member whose duplicate left may now be
  the one who goes on, and vice versa.
No other member's outcome can change, so deciding these (and applying the membership for them
alone) gives what a full sync would, in time proportional to the change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    Text,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from kith.connection.client import ListChange
from kith.connection.incoming import ChangedMember, Incoming, PageMember, SharedEmail, staged_row
from kith.connection.staging import write_rows
from kith.db import affected
from kith.marketing.models import CommunityListMember, Subscriber, TargetGroup

# The outcomes a row has when it is staged (steps 1 and 2), which a row staged again keeps
STAGED_OUTCOMES = ("missing_contact_key", "malformed_email")
# Incoming's columns and the mirror's, pairwise
_COLUMNS = (
    ("position", "position"),
    ("contact_key", "contact_key"),
    ("legacy_key", "legacy_contact_key"),
    ("email", "email"),
    ("email_key", "email_key"),
    ("outcome", "outcome"),
    ("subscriber_id", "subscriber_id"),
    ("normal_email", "normal_email"),
    ("normal_key", "normal_key"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("profile", "profile"),
)
# The kept columns a delta rewrites together, by staged name, so that the email's index is
# written only for members whose email changed: a member's legacy key, subscriber and outcome
# mostly change together, the email alone (a row's position is the one it was first kept with)
_REWRITTEN = (
    ("email", "email_key", "normal_email", "normal_key"),
    ("legacy_key", "subscriber_id", "outcome", "first_name", "last_name", "profile"),
)
_KEPT = dict(_COLUMNS)
_Keys = Select[tuple[str]] | CompoundSelect[tuple[str]]
# Statements on the table itself: the ORM's would fetch the rows they change, to keep a
# session's objects in step, and no session holds these
_kept_list = CommunityListMember.metadata.tables[CommunityListMember.__tablename__]
_mirror = _kept_list.c


@dataclass(frozen=True)
class Staged:
    """What a run staged: `in_list` members read in full (None for a delta, which staged only
    the changed ones), and the cursor of the list's change log they stand at (None when the
    community named none)."""

    in_list: int | None
    cursor: int | None
    delta: bool


def next_position(connection: Connection, group_id: int) -> int:
    """The position after the last of the group's kept list: where members joining go."""
    last = connection.scalar(select(func.max(_mirror.position)).where(_mirror.group_id == group_id))
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
    page, noted = PageMember.c.contact_key, ChangedMember.c.contact_key
    connection.execute(delete(PageMember))
    write_rows(connection, PageMember, ("contact_key",), ((key,) for key in last))
    connection.execute(delete(Incoming).where(Incoming.c.contact_key.in_(select(page))))
    connection.execute(
        insert(ChangedMember).from_select(
            ["contact_key", "from_feed"], select(page, true()).where(page.not_in(select(noted)))
        )
    )
    added = (change.member for change in last.values() if change.change == "added")
    return [staged_row(at, member, platform) for at, member in enumerate(added, start=position)]


def changed_subscribers_matched(group_id: int, seen: int) -> CompoundSelect[tuple[str]]:
    """The kept members whose subscriber changed after `seen`: the one they matched, or the
    one whose Remote ID their legacy key now is. (Found from the few changed subscribers, by
    the kept list's indexes, never by reading the list.)"""
    changed = Subscriber.change_seq > seen
    of_group = _mirror.group_id == group_id
    by_remote_id = _mirror.legacy_contact_key.in_(select(Subscriber.remote_id).where(changed))
    by_subscriber = _mirror.subscriber_id.in_(select(Subscriber.id).where(changed))
    return (
        select(_mirror.contact_key)
        .where(of_group, by_remote_id)
        .union(select(_mirror.contact_key).where(of_group, by_subscriber))
    )


def subscribers_changed_for(session: Session, group_id: int, seen: int) -> bool:
    """Whether a member of the group's kept list has a subscriber that changed after `seen`."""
    return bool(session.scalar(select(changed_subscribers_matched(group_id, seen).exists())))


def stage_affected(session: Session, group_id: int, seen: int) -> None:
    """Stage again from the kept list the members to decide with the changed ones: those whose
    subscriber changed after `seen`, then every member sharing an email with a member decided
    again (as they were, or as they are now). Their rows get back the outcome they had when
    staged (steps 1 and 2 only)."""
    changed = ChangedMember.c
    noted = select(changed.contact_key)
    _note(session, changed_subscribers_matched(group_id, seen), noted)
    emails = (
        select(Incoming.c.email_key)
        .where(Incoming.c.email_key.is_not(None))
        .union(
            select(_mirror.email_key).where(  # by contact key: no condition on the email
                _mirror.group_id == group_id, _mirror.contact_key.in_(noted)
            )
        )
        .subquery()
    )
    sharing = select(_mirror.contact_key).where(
        _mirror.group_id == group_id, _mirror.email_key.in_(select(emails.c.email_key))
    )
    _note(session, sharing, noted)
    again = select(
        *(
            case((_mirror.outcome.in_(STAGED_OUTCOMES), _mirror.outcome))
            if name == "outcome"
            else null()
            if name == "subscriber_id"
            else _mirror[kept]
            for name, kept in _COLUMNS
        )
    ).where(
        _mirror.group_id == group_id,
        _mirror.contact_key.in_(select(changed.contact_key).where(changed.from_feed == false())),
    )
    session.execute(insert(Incoming).from_select([name for name, _ in _COLUMNS], again))


def _note(session: Session, keys: _Keys, noted: Select[tuple[str]]) -> None:
    """Note the kept members `keys` selects as to decide again, unless they already are."""
    found = keys.subquery()
    session.execute(
        insert(ChangedMember).from_select(
            ["contact_key", "from_feed"],
            select(found.c[0], false()).where(found.c[0].not_in(noted)),
        )
    )


def note_shared_emails(connection: Connection | Session) -> None:
    """Step 3's candidates, once a delta is staged: the emails more than one undecided staged
    member has (a delta stages every member of the list who has them)."""
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


def outcomes_before(session: Session, group_id: int) -> Counter[str]:
    """How the members a delta decides again were decided before, outcome by outcome."""
    counted = session.execute(
        select(_mirror.outcome, func.count())
        .where(
            _mirror.group_id == group_id,
            _mirror.contact_key.in_(select(ChangedMember.c.contact_key)),
        )
        .group_by(_mirror.outcome)
    ).tuples()
    return Counter({outcome or "": count for outcome, count in counted})


def members_before(group_id: int) -> Select[tuple[int | None]]:
    """The subscribers in the group through a member a delta decides again (before it)."""
    return select(_mirror.subscriber_id).where(
        _mirror.group_id == group_id,
        _mirror.outcome == "member",
        _mirror.contact_key.in_(select(ChangedMember.c.contact_key)),
    )


def store_mirror(session: Session, group: TargetGroup, staged: Staged, seen: int) -> None:
    """Keep what this run decided as the group's list, with its cursor and the subscribers'
    changes it saw: every row after a full read, only the changed members' after a delta. With
    no cursor nothing is kept, as no delta could follow it."""
    group.list_cursor, group.subscriber_changes_seen = staged.cursor, seen
    if staged.delta:
        _store_changed(session, group.id)
        return
    session.execute(delete(_kept_list).where(_mirror.group_id == group.id))
    if staged.cursor is None:
        return
    kept = _insert_kept(session, group.id, Incoming.c.contact_key.is_not(None))
    if kept != staged.in_list:  # a member without a contact key
        session.execute(delete(_kept_list).where(_mirror.group_id == group.id))
        group.list_cursor = None


def _store_changed(session: Session, group_id: int) -> None:
    """A delta's rows kept: the members who left the list forgotten, those who joined it added,
    and the rows of those decided again rewritten where they differ, a few columns at a time
    (_REWRITTEN), so that an index is written only for the members whose indexed columns may
    have changed: at a million members each index written is thousands of pages."""
    incoming = Incoming.c
    of_group = _mirror.group_id == group_id
    left = select(ChangedMember.c.contact_key).where(
        ChangedMember.c.contact_key.not_in(select(incoming.contact_key))
    )
    session.execute(delete(_kept_list).where(of_group, _mirror.contact_key.in_(left)))
    for names in _REWRITTEN:
        kept = {name: _KEPT[name] for name in names}
        session.execute(
            update(_kept_list)
            .where(
                of_group,
                _mirror.contact_key == incoming.contact_key,
                or_(*(_differs(_mirror[column], incoming[name]) for name, column in kept.items())),
            )
            .values({column: incoming[name] for name, column in kept.items()})
        )
    held = select(_mirror.contact_key).where(of_group, _mirror.contact_key == incoming.contact_key)
    _insert_kept(session, group_id, incoming.contact_key.is_not(None), ~held.exists())


def _insert_kept(session: Session, group_id: int, *conditions: Any) -> int:
    """Keep the staged rows `conditions` select as the group's; how many."""
    rows = select(literal(group_id), *(Incoming.c[name] for name, _ in _COLUMNS)).where(*conditions)
    columns = ["group_id", *(kept for _, kept in _COLUMNS)]
    return affected(session.execute(insert(_kept_list).from_select(columns, rows)))


def _differs(kept: Any, staged: Any) -> ColumnElement[bool]:
    """Whether a kept value and a staged one differ (NULLs alike); JSON compared as its text,
    which PostgreSQL's json type has no equality for."""
    if isinstance(kept.type, JSON):
        kept, staged = cast(kept, Text), cast(staged, Text)
    differs: ColumnElement[bool] = kept.is_distinct_from(staged)
    return differs
