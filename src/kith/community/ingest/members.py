"""Importing members: upsert by contact key, other columns as custom fields, legacy keys unique."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, literal, select
from sqlalchemy.orm import Session

from kith.community.models import (
    MEMBER_BOOLEAN_FIELDS,
    MEMBER_DATE_FIELDS,
    MEMBER_TEXT_FIELDS,
    CustomField,
    Member,
)
from kith.csvimport.bulk import BatchWriter, Insert, among, dialect_insert
from kith.csvimport.report import ImportReport
from kith.csvimport.rows import (
    Header,
    Row,
    check_width,
    flag,
    optional_text,
    optional_time,
    parsed_batches,
    read_header,
    required_text,
)
from kith.csvimport.timestamps import StoredTime, TimeParser, time_parser
from kith.db import refresh_statistics
from kith.errors import InvalidInput

MEMBER_COLUMNS = (*MEMBER_TEXT_FIELDS, *MEMBER_DATE_FIELDS, *MEMBER_BOOLEAN_FIELDS)
_TEXT_COLUMNS = ("email", "first_name", "last_name", "company", "title", "member_type")


def _max_length(column: str) -> int | None:
    kind = Member.__table__.c[column].type
    return kind.length if isinstance(kind, String) else None


_KEY_LENGTH = _max_length("contact_key")
_TEXT_LENGTHS = {name: _max_length(name) for name in _TEXT_COLUMNS}
_CUSTOM_NAME_LENGTH = 100
# Columns written, in the table's order; the values of a member row follow this order.
_WRITTEN = (*MEMBER_COLUMNS, "custom_fields")


@dataclass
class _MemberRow:
    line: int
    contact_key: str
    legacy_contact_key: str | None
    texts: tuple[str | None, ...]  # as in _TEXT_COLUMNS
    joined_at: StoredTime | None
    last_login_at: StoredTime | None
    is_super_admin: bool
    custom: dict[str, str | None]  # None clears a custom field


def import_members(
    session: Session, rows: Iterable[Row], *, now: datetime, strict: bool = False
) -> ImportReport:
    """Create or update members from CSV rows (the header first), a batch at a time.

    Columns other than MEMBER_COLUMNS are custom fields: a cell sets that field, an empty cell
    clears it, and fields the file does not name are kept. Email syntax is not checked here (a
    sync reports bad addresses). With `strict`, any rejected row raises ImportRejected so that
    the caller's transaction imports nothing.
    """
    stream = iter(rows)
    header = read_header(stream, MEMBER_COLUMNS)
    has_custom = bool(header.extra)
    _register_custom_fields(session, header.extra)
    writer = BatchWriter(session, _upsert(session, has_custom), _WRITTEN)
    parse = _MemberParser(header, time_parser(session))
    report = ImportReport()
    for parsed in parsed_batches(stream, parse, report):
        _write(session, writer, parsed, report, has_custom)
    refresh_statistics(session, "members")
    return report.settle(strict=strict)


def _register_custom_fields(session: Session, columns: dict[str, int]) -> None:
    too_long = [name for name in columns if len(name) > _CUSTOM_NAME_LENGTH]
    if too_long:
        raise InvalidInput(
            f"custom column names are limited to {_CUSTOM_NAME_LENGTH} characters: {too_long[0]!r}"
        )
    if columns:
        session.execute(
            dialect_insert(session, CustomField).on_conflict_do_nothing(),
            [{"name": name} for name in columns],
        )


def _upsert(session: Session, has_custom: bool) -> Insert:
    statement = dialect_insert(session, Member)
    updated = [name for name in _WRITTEN if name != "contact_key"]
    if not has_custom:
        updated.remove("custom_fields")  # a file without custom columns keeps them as they are
    return statement.on_conflict_do_update(
        index_elements=["contact_key"],
        set_={name: statement.excluded[name] for name in updated},
    )


class _MemberParser:
    """Turns the cells of one row into a _MemberRow, or raises RowRejected."""

    def __init__(self, header: Header, parse_time: TimeParser) -> None:
        self._header = header
        self._keys = header.getter(("contact_key", "legacy_contact_key"))
        self._texts = header.getter(_TEXT_COLUMNS)
        self._rest = header.getter(("joined_at", "last_login_at", "is_super_admin"))
        self._custom = list(header.extra.items())
        self._parse_time = parse_time

    def __call__(self, line: int, row: Row) -> _MemberRow:
        check_width(row, self._header)
        contact_key, legacy_key = self._keys(row)
        joined_at, last_login_at, is_super_admin = self._rest(row)
        texts = tuple(
            optional_text(value, name, _TEXT_LENGTHS[name])
            for name, value in zip(_TEXT_COLUMNS, self._texts(row), strict=True)
        )
        return _MemberRow(
            line=line,
            contact_key=required_text(contact_key, "contact_key", _KEY_LENGTH),
            legacy_contact_key=optional_text(legacy_key, "legacy_contact_key", _KEY_LENGTH),
            texts=texts,
            joined_at=optional_time(joined_at, "joined_at", self._parse_time),
            last_login_at=optional_time(last_login_at, "last_login_at", self._parse_time),
            is_super_admin=flag(is_super_admin, "is_super_admin"),
            custom={name: row[index].strip() or None for name, index in self._custom},
        )


@dataclass
class _Holdings:
    """What the database holds for the members and legacy keys of one batch."""

    legacy_of: dict[str, str | None]  # contact key -> legacy key, for members that exist
    custom_of: dict[str, dict[str, Any]]  # contact key -> custom fields (if the file has any)
    holder_of: dict[str, str]  # legacy key -> contact key of the member holding it


def _holdings(session: Session, rows: Sequence[_MemberRow], has_custom: bool) -> _Holdings:
    """Two queries: the batch's members as they are, and who holds its legacy keys."""
    holdings = _Holdings({}, {}, {})
    custom_column = Member.custom_fields if has_custom else literal(None)
    members = select(Member.contact_key, Member.legacy_contact_key, custom_column).where(
        among(session, Member.contact_key, {row.contact_key for row in rows})
    )
    for contact_key, legacy_key, custom in session.connection().execute(members):
        holdings.legacy_of[contact_key] = legacy_key
        holdings.custom_of[contact_key] = custom or {}
    legacy_keys = {row.legacy_contact_key for row in rows if row.legacy_contact_key}
    if legacy_keys:
        holders = select(Member.legacy_contact_key, Member.contact_key).where(
            among(session, Member.legacy_contact_key, legacy_keys)
        )
        for legacy_key, contact_key in session.connection().execute(holders):
            holdings.holder_of[legacy_key] = contact_key
    return holdings


def _write(
    session: Session,
    writer: BatchWriter,
    rows: Sequence[_MemberRow],
    report: ImportReport,
    has_custom: bool,
) -> None:
    """Upsert one batch, replayed in file order so that legacy keys stay unique.

    The replay follows each row's effect on what the database holds, so a legacy key freed
    earlier in the file can be taken later, a key still held is rejected, and the bulk upsert
    that follows never breaks the unique constraint.
    """
    if not rows:
        return
    held = _holdings(session, rows, has_custom)
    existing = set(held.legacy_of)
    values = []
    for row in rows:
        contact_key, legacy_key = row.contact_key, row.legacy_contact_key
        if legacy_key is not None:
            holder = held.holder_of.get(legacy_key, contact_key)
            if holder != contact_key:
                report.reject(
                    row.line,
                    f"legacy_contact_key {legacy_key!r} is already used by member {holder!r}",
                )
                continue
            held.holder_of[legacy_key] = contact_key
        previous = held.legacy_of.get(contact_key)
        if previous is not None and previous != legacy_key:
            held.holder_of.pop(previous, None)
        held.legacy_of[contact_key] = legacy_key
        custom: dict[str, Any] = {}
        if has_custom:
            merged = {**held.custom_of.get(contact_key, {}), **row.custom}
            custom = {name: value for name, value in merged.items() if value is not None}
            held.custom_of[contact_key] = custom
        if contact_key in existing:
            report.updated += 1
        else:
            report.imported += 1
            existing.add(contact_key)
        values.append(
            (
                contact_key,
                legacy_key,
                *row.texts,
                row.joined_at,
                row.last_login_at,
                row.is_super_admin,
                writer.document(custom),
            )
        )
    writer.write(values)
