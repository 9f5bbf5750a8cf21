"""Saved criteria, what Custom User Lists and Automation Rules both are: a named, keyed criteria
tree that only Super Admins change, compiled to one SQL query whenever its members are read."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from kith.community.criteria import Vocabulary, compile_criteria, parse_criteria
from kith.community.members import require_super_admin
from kith.community.models import AutomationRule, CustomUserList, Member
from kith.errors import Conflict, InvalidInput, KithError, NotFound, describe

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 300
# A MatchedMember's fields: a list's or rule's members in the CLI, a rule's member stream
MATCHED_FIELDS = ("contact_key", "legacy_contact_key", "email", "first_name", "last_name")

Saved = TypeVar("Saved", CustomUserList, AutomationRule)


@dataclass(frozen=True)
class SavedKind(Generic[Saved]):
    """What sets one kind of saved criteria apart: its table, its key and the words for it."""

    model: type[Saved]
    key: InstrumentedAttribute[str]  # e.g. CustomUserList.list_key
    key_prefix: str  # of a new key, e.g. "cul_"
    title: str  # names a missing one: "no Custom User List has the key or name ..."
    what: str  # names one in a name's errors: "a list needs a name"
    changes: str  # what only Super Admins may do: "create, edit or delete lists"

    def key_of(self, saved: Saved) -> str:
        key: str = getattr(saved, self.key.key)
        return key


@dataclass(frozen=True)
class MatchedMember:
    """A member some criteria select, with the keys a reader needs to find them elsewhere."""

    id: int
    contact_key: str
    legacy_contact_key: str | None
    email: str | None
    first_name: str | None
    last_name: str | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "contact_key": self.contact_key,
            "legacy_contact_key": self.legacy_contact_key,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
        }


def find(session: Session, kind: SavedKind[Saved], key_or_name: str) -> Saved:
    """One of `kind` by its key, or else by its exact name (names are unique ignoring case)."""
    model = kind.model
    found = session.scalar(select(model).where(kind.key == key_or_name))
    found = found or session.scalar(
        select(model).where(func.lower(model.name) == key_or_name.lower())
    )
    if found is None:
        raise NotFound(f"no {kind.title} has the key or name {key_or_name!r}")
    return found


def all_saved(
    session: Session, kind: SavedKind[Saved], *conditions: ColumnElement[bool]
) -> Sequence[Saved]:
    """Every one of `kind` meeting `conditions`, by name."""
    model = kind.model
    return session.scalars(select(model).where(*conditions).order_by(model.name)).all()


def with_counts(
    session: Session, found: Iterable[Saved], *, now: datetime, counts: bool = True
) -> list[tuple[Saved, int | None, str | None]]:
    """Each of `found` with the number of members it selects at `now` (None unless `counts`:
    on a large community a count takes about a second) and why it could not be counted (None
    when it was): one that fails to evaluate, such as one saved before the criteria had
    limits, is reported as such while the others are counted as usual."""
    counted: list[tuple[Saved, int | None, str | None]] = []
    for saved in found:
        count, error = _count_or_error(session, saved.criteria, now=now) if counts else (None, None)
        counted.append((saved, count, error))
    return counted


def _count_or_error(
    session: Session, criteria: Any, *, now: datetime
) -> tuple[int | None, str | None]:
    try:
        with session.begin_nested():  # on PostgreSQL a failed statement ends the transaction
            return count_members(session, criteria, now=now), None
    except KithError as error:  # criteria refused today, such as ones beyond the limits
        return None, str(error)
    except Exception as error:  # any other failure is this one's too: reported, not raised
        log.warning("saved criteria could not be counted: %s", describe(error), exc_info=True)
        return None, describe(error)


def create(
    session: Session,
    kind: SavedKind[Saved],
    *,
    name: str,
    criteria: Any,
    by: str,
    now: datetime,
    own: Callable[[Saved], None] | None = None,
) -> Saved:
    """A new one of `kind`, made by the Super Admin `by`; `own` sets (and checks) the fields
    that are the kind's own before the criteria are checked."""
    author = require_super_admin(session, by, kind.changes)
    created = kind.model(
        name=checked_name(session, kind, name),
        criteria=criteria,
        created_by=author.contact_key,
        created_at=now,
        updated_by=author.contact_key,
        updated_at=now,
        **{kind.key.key: f"{kind.key_prefix}{secrets.token_hex(6)}"},
    )
    if own is not None:
        own(created)
    validate_criteria(session, criteria, now=now)
    session.add(created)
    session.flush()
    return created


def update(
    session: Session,
    kind: SavedKind[Saved],
    key_or_name: str,
    *,
    by: str,
    now: datetime,
    name: str | None = None,
    criteria: Any = None,
    own: Callable[[Saved], None] | None = None,
) -> Saved:
    """Change what is given (None keeps a value) as the Super Admin `by`; `own` changes (and
    checks) the fields that are the kind's own before the criteria are checked."""
    author = require_super_admin(session, by, kind.changes)
    found = find(session, kind, key_or_name)
    if name is not None and name.strip() != found.name:
        found.name = checked_name(session, kind, name, renaming=found)
    if own is not None:
        own(found)
    if criteria is not None:
        validate_criteria(session, criteria, now=now)
        found.criteria = criteria
    found.updated_by = author.contact_key
    found.updated_at = now
    session.flush()
    return found


def delete(session: Session, kind: SavedKind[Saved], key_or_name: str, *, by: str) -> Saved:
    """Delete one of `kind` as the Super Admin `by`; the one deleted."""
    require_super_admin(session, by, kind.changes)
    found = find(session, kind, key_or_name)
    session.delete(found)
    session.flush()
    return found


def checked_name(
    session: Session, kind: SavedKind[Saved], name: str, renaming: Saved | None = None
) -> str:
    """`name` trimmed, refused when empty, too long, or held (any case) by another of `kind`
    than `renaming`."""
    a = "an" if kind.what[0].lower() in "aeiou" else "a"
    name = name.strip()
    if not name:
        raise InvalidInput(f"{a} {kind.what} needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{a} {kind.what} name has at most {MAX_NAME_LENGTH} characters")
    model = kind.model
    clash = session.scalar(select(model).where(func.lower(model.name) == name.lower()))
    if clash is not None and clash is not renaming:
        raise Conflict(
            f"{a} {kind.what} named {clash.name!r} already exists ({kind.key_of(clash)})"
        )
    return name


def member_ids_query(session: Session, criteria: Any, *, now: datetime) -> Select[tuple[int]]:
    """The ids of the members a criteria tree selects, as one query (validated first)."""
    vocabulary = Vocabulary.load(session)
    node = parse_criteria(criteria, vocabulary)
    condition = compile_criteria(node, now=now, vocabulary=vocabulary)
    # In id order SQLite walks the members table itself, so per-member lookups into the
    # activity index come in index order too (2-3x faster than via a smaller index).
    return select(Member.id).where(condition).order_by(Member.id)


def validate_criteria(session: Session, criteria: Any, *, now: datetime) -> None:
    """Raise InvalidCriteria, naming the node at fault, unless `criteria` compile."""
    member_ids_query(session, criteria, now=now)


def count_members(session: Session, criteria: Any, *, now: datetime) -> int:
    ids = member_ids_query(session, criteria, now=now).subquery()
    return int(session.scalar(select(func.count()).select_from(ids)) or 0)


def preview(
    session: Session, criteria: Any, *, now: datetime, sample: int = 20
) -> tuple[int, list[MatchedMember]]:
    """How many members the criteria select, and the first few of them; nothing is saved."""
    query = member_ids_query(session, criteria, now=now).with_only_columns(*_matched_columns())
    first = session.execute(query.limit(sample)).tuples()
    return count_members(session, criteria, now=now), [MatchedMember(*row) for row in first]


def member_rows(
    session: Session,
    criteria: Any,
    columns: Sequence[ColumnElement[Any]],
    *,
    now: datetime,
    after_id: int | None = None,
    limit: int | None = None,
    chunk: int = 10_000,
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The members the criteria select at `now` in id order as plain tuples of `columns` (of
    `members`), `chunk` at a time, from one evaluation: those after the member `after_id`, the
    first `limit` of them when given (a keyset page), else all (a stream).

    Rows stream from the database (a server-side cursor on PostgreSQL), so memory holds one
    chunk however many match. A tuple costs a fifth of a Member object (no identity map, no
    instrumentation), and the criteria filter the table itself rather than an id list.
    """
    query = member_ids_query(session, criteria, now=now).with_only_columns(*columns)
    if after_id is not None:
        query = query.where(Member.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    result = session.connection().execute(query.execution_options(yield_per=chunk))
    yield from result.tuples().partitions()


def matched_member_chunks(
    session: Session,
    criteria: Any,
    *,
    now: datetime,
    after_id: int | None = None,
    chunk: int = 10_000,
) -> Iterator[list[MatchedMember]]:
    """The members the criteria select at `now`, in id order, `chunk` at a time (member_rows)."""
    for rows in member_rows(
        session, criteria, _matched_columns(), now=now, after_id=after_id, chunk=chunk
    ):
        yield [MatchedMember(*row) for row in rows]


def iter_matched_members(
    session: Session, criteria: Any, *, now: datetime, chunk: int = 10_000
) -> Iterator[MatchedMember]:
    """Every member the criteria select at `now`, in id order (see matched_member_chunks)."""
    for members in matched_member_chunks(session, criteria, now=now, chunk=chunk):
        yield from members


def _matched_columns() -> list[ColumnElement[Any]]:
    table = Member.__table__.c
    return [table.id, *(table[name] for name in MATCHED_FIELDS)]
