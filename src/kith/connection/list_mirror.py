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
from kith.connection.incoming import (
    ChangedMember,
    Incoming,
    KeptBefore,
    PageMember,
    SharedEmail,
    staged_row,
)
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
STAGED_COLUMNS = [name for name, _ in _COLUMNS]
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
    staged (steps 1 and 2 only). The kept rows of all of them are read once, into KeptBefore,
    where the rest of the delta compares and counts them."""
    changed, before = ChangedMember.c, KeptBefore.c
    noted = select(changed.contact_key)
    _note(session, changed_subscribers_matched(group_id, seen), noted)
    _keep_before(session, group_id, _mirror.contact_key.in_(noted))
    emails = (
        select(Incoming.c.email_key)
        .where(Incoming.c.email_key.is_not(None))
        .union(select(before.email_key).where(before.email_key.is_not(None)))
    )
    sharing = _mirror.email_key.in_(emails), _mirror.contact_key.not_in(noted)
    _keep_before(session, group_id, *sharing)
    _note(session, select(before.contact_key), noted)
    again = select(
        *(
            case((before.outcome.in_(STAGED_OUTCOMES), before.outcome))
            if name == "outcome"
            else null()
            if name == "subscriber_id"
            else before[name]
            for name in STAGED_COLUMNS
        )
    ).where(before.contact_key.in_(select(changed.contact_key).where(changed.from_feed == false())))
    session.execute(insert(Incoming).from_select(STAGED_COLUMNS, again))


def _keep_before(session: Session, group_id: int, *conditions: Any) -> None:
    """Copy the group's kept rows that `conditions` select into KeptBefore."""
    kept = select(*(_mirror[column] for _, column in _COLUMNS)).where(
        _mirror.group_id == group_id, *conditions
    )
    session.execute(insert(KeptBefore).from_select(STAGED_COLUMNS, kept))


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


def outcomes_before(session: Session) -> Counter[str]:
    """How the members a delta decides again were decided before, outcome by outcome."""
    before = KeptBefore.c
    counted = session.execute(
        select(before.outcome, func.count()).group_by(before.outcome)
    ).tuples()
    return Counter({outcome or "": count for outcome, count in counted})


def members_before() -> Select[tuple[int | None]]:
    """The subscribers in the group through a member a delta decides again (before it)."""
    return select(KeptBefore.c.subscriber_id).where(KeptBefore.c.outcome == "member")


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
    and the rows of those decided again rewritten where they differ from before, a few columns
    at a time (_REWRITTEN), so that an index is written only for the members whose indexed
    columns may have changed: at a million members each index written is thousands of pages."""
    incoming, before = Incoming.c, KeptBefore.c
    of_group = _mirror.group_id == group_id
    left = select(before.contact_key).where(before.contact_key.not_in(select(incoming.contact_key)))
    session.execute(delete(_kept_list).where(of_group, _mirror.contact_key.in_(left)))
    staged = Incoming.alias("staged")
    for names in _REWRITTEN:
        # the rows to rewrite picked by a subquery, so that the statement joins the kept list
        # with the staged rows alone: joined with KeptBefore too, SQLite (with no statistics
        # on the kept list) would rather read the group's whole list
        differing = (
            select(staged.c.position)
            .join(KeptBefore, before.contact_key == staged.c.contact_key)
            .where(or_(*(_differs(before[name], staged.c[name]) for name in names)))
        )
        session.execute(
            update(_kept_list)
            .where(
                of_group,
                _mirror.contact_key == incoming.contact_key,
                incoming.position.in_(differing),
            )
            .values({_KEPT[name]: incoming[name] for name in names})
        )
    joined = incoming.contact_key.not_in(select(before.contact_key))
    _insert_kept(session, group_id, incoming.contact_key.is_not(None), joined)


def _insert_kept(session: Session, group_id: int, *conditions: Any) -> int:
    """Keep the staged rows `conditions` select as the group's; how many."""
    staged = (Incoming.c[name] for name in STAGED_COLUMNS)
    rows = select(literal(group_id), *staged).where(*conditions)
    columns = ["group_id", *(kept for _, kept in _COLUMNS)]
    return affected(session.execute(insert(_kept_list).from_select(columns, rows)))


def _differs(kept: Any, staged: Any) -> ColumnElement[bool]:
    """Whether a value as kept before and as staged now differ (NULLs alike); JSON compared as
    its text, which PostgreSQL's json type has no equality for."""
    if isinstance(kept.type, JSON):
        kept, staged = cast(kept, Text), cast(staged, Text)
    differs: ColumnElement[bool] = kept.is_distinct_from(staged)
    return differs
