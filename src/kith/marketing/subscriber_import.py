"""Importing subscribers: upsert by Remote ID when given, else by email, a batch at a time.

The rules the import keeps (and the database enforces where it can):
- a row with a remote_id updates the subscriber with that Remote ID; failing that, it adopts
  the subscriber without a Remote ID who has its email; failing that, it creates one;
- a row without a remote_id updates the one subscriber with its email, whatever that
  subscriber's Remote ID; an email shared by several subscribers is ambiguous and rejected;
- so two subscribers share an email only when both have Remote IDs, and a subscriber without
  a Remote ID has an email no other subscriber has;
- an empty status keeps the subscriber's status (new ones are subscribed), and an import never
  turns an unsubscribed or bounced subscriber back into a subscribed one: that takes
  `subscribers set-status`, a deliberate act.
Columns beyond the standard five are personalization fields: a cell sets the field, an empty
cell clears it, and fields the file does not name are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, or_, select, update
from sqlalchemy.orm import Session

from kith.csvimport.bulk import BatchWriter, among, dialect_insert, is_sqlite
from kith.csvimport.report import ImportReport
from kith.csvimport.rows import (
    Header,
    Row,
    RowRejected,
    check_width,
    optional_text,
    parsed_batches,
    read_header,
    required_text,
)
from kith.csvimport.timestamps import sqlite_text
from kith.db import refresh_statistics
from kith.emails import InvalidEmail, email_key, normalize_email
from kith.errors import InvalidInput
from kith.marketing.models import SUBSCRIBER_STATUSES, Subscriber
from kith.marketing.subscriber_changes import next_change

SUBSCRIBER_COLUMNS = ("email", "remote_id", "first_name", "last_name", "status")
FIELD_NAME_LENGTH = 100
# A new subscriber's columns, in the order importers (and the connection's Create records) write.
SUBSCRIBER_WRITTEN = (
    "email",
    "email_key",
    "remote_id",
    "first_name",
    "last_name",
    "status",
    "fields",
    "source",
    "created_at",
    "updated_at",
    "change_seq",
)
_LAPSED = ("unsubscribed", "bounced")
_UPDATED = (*SUBSCRIBER_WRITTEN[:7], "updated_at", "change_seq", "record_id")
_UPDATE = (
    update(Subscriber)
    .where(Subscriber.id == bindparam("record_id"))
    .values(
        {name: bindparam(name, type_=Subscriber.__table__.c[name].type) for name in _UPDATED[:-1]}
    )
)


@dataclass
class SubscriberRow:
    """One subscriber as a file row or an API call gives it; None status keeps the stored one."""

    line: int
    email: str
    remote_id: str | None
    first_name: str | None = None
    last_name: str | None = None
    status: str | None = None
    fields: dict[str, str | None] = field(default_factory=dict)


def import_subscribers(
    session: Session,
    rows: Iterable[Row],
    *,
    now: datetime,
    strict: bool = False,
    source: str = "import",
) -> ImportReport:
    """Create or update subscribers from CSV rows (the header first); see the module's rules.

    With `strict`, any rejected row raises ImportRejected so that the caller's transaction
    imports nothing.
    """
    stream = iter(rows)
    header = read_header(stream, SUBSCRIBER_COLUMNS)
    too_long = [name for name in header.extra if len(name) > FIELD_NAME_LENGTH]
    if too_long:
        raise InvalidInput(
            f"personalization field names are limited to {FIELD_NAME_LENGTH} characters:"
            f" {too_long[0]!r}"
        )
    report = ImportReport()
    upsert = SubscriberUpsert(session, now=now, source=source)
    for parsed in parsed_batches(stream, _RowParser(header), report):
        upsert.write(parsed, report)
    refresh_statistics(session, "subscribers")
    return report.settle(strict=strict)


class _RowParser:
    """Turns the cells of one row into a SubscriberRow, or raises RowRejected."""

    def __init__(self, header: Header) -> None:
        self._header = header
        self._cells = header.getter(SUBSCRIBER_COLUMNS)
        self._fields = list(header.extra.items())

    def __call__(self, line: int, row: Row) -> SubscriberRow:
        check_width(row, self._header)
        return subscriber_row(
            line,
            *self._cells(row),
            fields={name: row[index] for name, index in self._fields},
        )


def _max_length(column: str) -> int:
    kind = Subscriber.__table__.c[column].type
    assert isinstance(kind, String) and kind.length is not None
    return kind.length


_LENGTHS = {name: _max_length(name) for name in ("email", "remote_id", "first_name", "last_name")}


def subscriber_row(
    line: int,
    email: str,
    remote_id: str,
    first_name: str,
    last_name: str,
    status: str,
    *,
    fields: dict[str, str],
) -> SubscriberRow:
    """One subscriber from the text of its cells (an empty one is absent), checked as an import
    checks a row: RowRejected names the first problem."""
    try:
        address = normalize_email(required_text(email, "email"))
    except InvalidEmail as error:
        raise RowRejected(str(error)) from None
    if len(address) > _LENGTHS["email"]:
        raise RowRejected(f"email is longer than {_LENGTHS['email']} characters")
    status = status.strip().lower()
    if status and status not in SUBSCRIBER_STATUSES:
        raise RowRejected(
            f"status must be subscribed, unsubscribed, bounced or empty, not {status!r}"
        )
    return SubscriberRow(
        line=line,
        email=address,
        remote_id=optional_text(remote_id, "remote_id", _LENGTHS["remote_id"]),
        first_name=optional_text(first_name, "first_name", _LENGTHS["first_name"]),
        last_name=optional_text(last_name, "last_name", _LENGTHS["last_name"]),
        status=status or None,
        fields={name: value.strip() or None for name, value in fields.items()},
    )


@dataclass
class _Record:
    """A subscriber as the batch leaves it: `id` None until inserted."""

    id: int | None
    email: str
    key: str
    remote_id: str | None
    first_name: str | None
    last_name: str | None
    status: str
    fields: dict[str, Any]
    change_seq: int = 0


class SubscriberUpsert:
    """Applies batches of SubscriberRows: one look-up per batch, then one bulk UPDATE of the
    subscribers that exist and one bulk INSERT of the new ones.

    Rows are replayed in order against what the database holds for the batch, so a later row
    sees the effect of an earlier one and the bulk statements never break a unique constraint.
    """

    def __init__(self, session: Session, *, now: datetime, source: str) -> None:
        self._session = session
        self._source = source
        self._insert = BatchWriter(session, dialect_insert(session, Subscriber), SUBSCRIBER_WRITTEN)
        self._update = BatchWriter(session, _UPDATE, _UPDATED)
        self._stored_now: Any = sqlite_text(now) if is_sqlite(session) else now
        self._change: int | None = None  # the number of this upsert's changes, once it has one

    def write(self, rows: Sequence[SubscriberRow], report: ImportReport) -> list[_Record]:
        """Apply the rows; the records they leave, one per row that was not rejected."""
        if not rows:
            return []
        if self._change is None:  # before any subscriber's row, as every writer takes them
            self._change = next_change(self._session)
        batch = _Batch(self._holdings(rows))
        applied = []
        for row in rows:
            try:
                record, created = batch.apply(row)
            except RowRejected as reason:
                report.reject(row.line, str(reason))
                continue
            if created:
                report.imported += 1
            else:
                report.updated += 1
            applied.append(record)
        for record in batch.moved:
            record.change_seq = self._change
        self._flush(batch)
        return applied

    def _holdings(self, rows: Sequence[SubscriberRow]) -> list[_Record]:
        """The stored subscribers with the batch's Remote IDs or emails (one query)."""
        session = self._session
        columns = (
            Subscriber.id,
            Subscriber.email,
            Subscriber.email_key,
            Subscriber.remote_id,
            Subscriber.first_name,
            Subscriber.last_name,
            Subscriber.status,
            Subscriber.fields,
            Subscriber.change_seq,
        )
        remote_ids = {row.remote_id for row in rows if row.remote_id}
        condition = among(session, Subscriber.email_key, {email_key(row.email) for row in rows})
        if remote_ids:
            condition = or_(condition, among(session, Subscriber.remote_id, remote_ids))
        stored = session.execute(select(*columns).where(condition)).tuples()
        return [
            _Record(id_, email, key, remote_id, first, last, status, fields or {}, change)
            for id_, email, key, remote_id, first, last, status, fields, change in stored
        ]

    def _flush(self, batch: _Batch) -> None:
        now = self._stored_now
        self._update.write(
            [(*self._values(record), now, record.change_seq, record.id) for record in batch.changed]
        )
        self._insert.write(
            [
                (*self._values(record), self._source, now, now, record.change_seq)
                for record in batch.created
            ]
        )

    def _values(self, record: _Record) -> tuple[Any, ...]:
        """A record's stored values, in the order of SUBSCRIBER_WRITTEN's first seven columns."""
        return (
            record.email,
            record.key,
            record.remote_id,
            record.first_name,
            record.last_name,
            record.status,
            self._insert.document(record.fields),
        )


class _Batch:
    """The replay of one batch: who holds which Remote ID and email as the rows apply."""

    def __init__(self, stored: list[_Record]) -> None:
        self.by_remote_id: dict[str, _Record] = {}
        self.by_key: dict[str, list[_Record]] = {}
        self.changed: list[_Record] = []  # stored records to update, each once
        self.created: list[_Record] = []
        # created, or their status or Remote ID changed (kith.marketing.subscriber_changes)
        self.moved: list[_Record] = []
        self._changed_ids: set[int] = set()
        for record in stored:
            self._index(record)

    def apply(self, row: SubscriberRow) -> tuple[_Record, bool]:
        """The record the row updates or creates (True when created); RowRejected if neither."""
        key = email_key(row.email)
        record = self._match(row, key)
        if record is None:
            record = _Record(None, row.email, key, row.remote_id, None, None, "subscribed", {})
            self.created.append(record)
            self.moved.append(record)
            self._index(record)
            self._update(record, row, key)
            return record, True
        if record.id is not None and record.id not in self._changed_ids:
            self._changed_ids.add(record.id)
            self.changed.append(record)
        before = (record.status, record.remote_id)
        self._update(record, row, key)
        if (record.status, record.remote_id) != before and record.id is not None:
            self.moved.append(record)
        return record, False

    def _match(self, row: SubscriberRow, key: str) -> _Record | None:
        holders = self.by_key.get(key, [])
        if row.remote_id is None:
            if len(holders) > 1:
                remote_ids = ", ".join(sorted(repr(each.remote_id) for each in holders)[:5])
                raise RowRejected(
                    f"{len(holders)} subscribers have the email {row.email!r} (Remote IDs "
                    f"{remote_ids}); give a remote_id to say which one"
                )
            return holders[0] if holders else None
        without_remote_id = next((each for each in holders if each.remote_id is None), None)
        record = self.by_remote_id.get(row.remote_id)
        if record is None:
            return without_remote_id  # adopted: it takes the row's Remote ID
        if without_remote_id is not None and record.key != key:
            raise RowRejected(
                f"the email {row.email!r} belongs to a subscriber without a Remote ID; give that "
                f"subscriber the remote_id {row.remote_id!r} instead, or use another email"
            )
        return record

    def _update(self, record: _Record, row: SubscriberRow, key: str) -> None:
        if record.key != key:
            self.by_key[record.key].remove(record)
            self.by_key.setdefault(key, []).append(record)
        if row.remote_id is not None and record.remote_id is None:
            self.by_remote_id[row.remote_id] = record
        record.email, record.key = row.email, key
        record.remote_id = row.remote_id or record.remote_id
        record.first_name, record.last_name = row.first_name, row.last_name
        if row.status is not None and not (row.status == "subscribed" and record.status in _LAPSED):
            record.status = row.status
        if row.fields:
            merged = {**record.fields, **row.fields}
            record.fields = {name: value for name, value in merged.items() if value is not None}

    def _index(self, record: _Record) -> None:
        if record.remote_id is not None:
            self.by_remote_id[record.remote_id] = record
        self.by_key.setdefault(record.key, []).append(record)
