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
  the one who goes on, and vice versa. Each kept row says whether another member in the
  running may share its email (`email_shared`), so they are looked for only by the emails
  that may be shared: at 1% churn, most changed members keep an email no one else has.
No other member's outcome can change, so deciding these (and applying the membership for them
alone) gives what a full sync would, in time proportional to the change.

A full sync keeps the list in CommunityListMember; a delta writes the rows it changes into
CommunityListRecent, which stand in for the same members' (kept_rows reads the two as one), so
that its writes go to a few pages of a small table, not to rows all over the large one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    Table,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    select,
    true,
    union,
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
from kith.marketing.groups.kept_list import KEPT_LIST, RECENT, kept_rows
from kith.marketing.models import Subscriber, TargetGroup

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
STAGED_COLUMNS = [name for name, _ in _COLUMNS]
# The kept rows' columns: the staged ones, then whether the email may be shared; KeptBefore's
_KEPT_COLUMNS = [*(kept for _, kept in _COLUMNS), "email_shared"]
_BEFORE_COLUMNS = [*STAGED_COLUMNS, "email_shared"]
_Keys = Select[tuple[str]] | CompoundSelect[tuple[str]]


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
    last = max(
        connection.scalar(select(func.max(table.c.position)).where(table.c.group_id == group_id))
        or -1
        for table in (KEPT_LIST, RECENT)
    )
    return last + 1


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
    remote_ids = select(Subscriber.remote_id).where(changed)
    ids = select(Subscriber.id).where(changed)
    found = (  # one statement each, so that each finds its members by its own index
        kept_rows(
            group_id, ["contact_key"], lambda kept: kept.c.legacy_contact_key.in_(remote_ids)
        ),
        kept_rows(group_id, ["contact_key"], lambda kept: kept.c.subscriber_id.in_(ids)),
    )
    return union(*(select(rows.subquery().c.contact_key) for rows in found))


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
    _keep_before(session, group_id, lambda kept: kept.c.contact_key.in_(noted))
    emails = _emails_maybe_shared()
    _keep_before(
        session,
        group_id,
        lambda kept: and_(kept.c.email_key.in_(emails), kept.c.contact_key.not_in(noted)),
    )
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


def _emails_maybe_shared() -> CompoundSelect[tuple[str]]:
    """The emails of the members decided again that other kept members may have (step 3 ranks
    them together): the email each had before if it may have been shared then, and the one
    each has now unless they had it before, in the running, shared with no one."""
    before, incoming = KeptBefore.c, Incoming.c
    had_alone = select(before.contact_key).where(
        before.contact_key == incoming.contact_key,
        before.email_key == incoming.email_key,
        before.outcome.not_in(STAGED_OUTCOMES),
        before.email_shared == false(),
    )
    return union(
        select(before.email_key).where(before.email_shared == true()),
        select(incoming.email_key).where(incoming.outcome.is_(None), ~had_alone.exists()),
    )


def _keep_before(session: Session, group_id: int, where: Callable[[Table], Any]) -> None:
    """Copy the group's kept rows that `where` selects into KeptBefore."""
    kept = kept_rows(group_id, _KEPT_COLUMNS, where)
    session.execute(insert(KeptBefore).from_select(_BEFORE_COLUMNS, kept))


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
    _forget(session, group.id)
    if staged.cursor is None:
        return
    kept = _insert_kept(session, group.id, Incoming.c.contact_key.is_not(None))
    if kept != staged.in_list:  # a member without a contact key
        _forget(session, group.id)
        group.list_cursor = None


def _forget(session: Session, group_id: int) -> None:
    for table in (RECENT, KEPT_LIST):
        session.execute(delete(table).where(table.c.group_id == group_id))


def _store_changed(session: Session, group_id: int) -> None:
    """A delta's rows kept, as recent rows standing in for the kept list's: the members decided
    again as decided now (at the position they were first kept at), those who left the list
    as gone."""
    incoming, before = Incoming.c, KeptBefore.c
    decided = select(
        literal(group_id),
        false(),
        func.coalesce(before.position, incoming.position),
        *(incoming[name] for name in STAGED_COLUMNS[1:]),
        _email_shared(),
    ).select_from(Incoming.outerjoin(KeptBefore, before.contact_key == incoming.contact_key))
    left = select(
        literal(group_id),
        true(),
        before.position,
        before.contact_key,
        *(null() for _ in STAGED_COLUMNS[2:]),
        false(),
    ).where(before.contact_key.not_in(select(incoming.contact_key)))
    recent = RECENT.c
    decided_again = union(select(incoming.contact_key), select(before.contact_key))
    session.execute(
        delete(RECENT).where(recent.group_id == group_id, recent.contact_key.in_(decided_again))
    )
    rows = decided.where(incoming.contact_key.is_not(None)).union_all(left)
    session.execute(insert(RECENT).from_select(["group_id", "gone", *_KEPT_COLUMNS], rows))


def _insert_kept(session: Session, group_id: int, *conditions: Any) -> int:
    """Keep the staged rows `conditions` select as the group's; how many."""
    staged = (Incoming.c[name] for name in STAGED_COLUMNS)
    rows = select(literal(group_id), *staged, _email_shared()).where(*conditions)
    columns = ["group_id", *_KEPT_COLUMNS]
    return affected(session.execute(insert(KEPT_LIST).from_select(columns, rows)))


def _email_shared() -> ColumnElement[bool]:
    """Whether a staged member's email may be another's in the running: step 3's candidates
    (SharedEmail) are every such email, and a few more in a full sync (StagedRows)."""
    email_key = Incoming.c.email_key
    return and_(email_key.is_not(None), email_key.in_(select(SharedEmail.c.email_key)))
