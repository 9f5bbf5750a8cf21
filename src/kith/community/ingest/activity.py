"""Importing activity events, from a CSV file or a batch posted to the API.

This is the hot path of a large import (ten events per member is common), so the per-row work
is kept to parsing: types and communities are resolved from maps held for the whole import,
contact keys a batch at a time, and each batch is written with one bulk statement (COPY into a
staging table on PostgreSQL). An `event_id` seen before is skipped and counted as a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.community.ingest.communities import CommunityIds
from kith.community.ingest.member_ids import MemberIds
from kith.community.models import ActivityEvent, ActivityType
from kith.csvimport.bulk import BatchWriter, dialect_insert, is_sqlite
from kith.csvimport.report import ImportReport
from kith.csvimport.rows import BATCH_SIZE, NumberedRow, Row, numbered_batches, read_header
from kith.csvimport.timestamps import time_parser
from kith.db import refresh_statistics

ACTIVITY_COLUMNS = ("event_id", "contact_key", "type", "occurred_at", "community")
_EVENT_ID_LENGTH = 200
_WRITTEN = ("event_id", "member_id", "type_id", "occurred_at", "community_id")

# (line, event_id, contact_key, type_id, occurred_at in stored form, community_id)
_Staged = tuple[int, str | None, str, int, Any, int | None]
# (event_id, member_id, type_id, occurred_at in stored form, community_id)
EventValues = tuple[str | None, int, int, Any, int | None]


def import_activity(
    session: Session, rows: Iterable[Row], *, now: datetime, strict: bool = False
) -> ImportReport:
    """Add activity events from CSV rows (the header first), a batch at a time.

    Rejected: a missing or unknown contact_key, an unknown type, a missing or unparseable
    occurred_at (a naive value means UTC), an unknown community. Other columns are ignored.
    With `strict`, any rejected row raises ImportRejected so that the caller's transaction
    imports nothing.
    """
    stream = iter(rows)
    header = read_header(stream, ACTIVITY_COLUMNS)
    loader = _ActivityLoader(session)
    pick = itemgetter(*(header.positions[name] for name in ACTIVITY_COLUMNS))
    for batch in numbered_batches(stream):
        loader.load(batch, header.width, pick)
    refresh_statistics(session, "activity_events")
    return loader.report.settle(strict=strict)


def record_activity(
    session: Session, events: list[dict[str, Any]], *, now: datetime
) -> ImportReport:
    """Add activity events posted as JSON objects (keys as in ACTIVITY_COLUMNS).

    Validated as import_activity validates rows; `line` in a rejection is the event's 1-based
    position in the batch. Valid events are stored even when others are rejected.
    """
    loader = _ActivityLoader(session)
    numbered: list[NumberedRow] = []
    for line, event in enumerate(events, start=1):
        try:
            numbered.append((line, _event_cells(event)))
        except ValueError as reason:
            loader.report.reject(line, str(reason))
    pick = itemgetter(*range(len(ACTIVITY_COLUMNS)))
    for start in range(0, len(numbered), BATCH_SIZE):
        loader.load(numbered[start : start + BATCH_SIZE], len(ACTIVITY_COLUMNS), pick)
    return loader.report.settle(strict=False)


def _event_cells(event: object) -> list[str]:
    """An API event as the cells of a CSV row; raises ValueError for a value of the wrong type."""
    if not isinstance(event, dict):
        raise ValueError("expected a JSON object")
    cells = []
    for name in ACTIVITY_COLUMNS:
        value = event.get(name)
        if value is None:
            cells.append("")
        elif isinstance(value, str):
            cells.append(value)
        elif name == "occurred_at" and isinstance(value, datetime):
            cells.append(value.isoformat())
        elif name == "event_id" and isinstance(value, int) and not isinstance(value, bool):
            cells.append(str(value))
        else:
            raise ValueError(f"{name} must be a string, not {type(value).__name__}")
    return cells


class _ActivityLoader:
    """Validates and stores batches of activity rows, keeping what it learns for the import."""

    def __init__(self, session: Session) -> None:
        self.report = ImportReport()
        self._session = session
        self._all_types: dict[str, int] = dict(
            session.execute(select(ActivityType.name, ActivityType.id)).tuples().all()
        )
        self._types = dict(self._all_types)  # also the spellings met in the file
        self._members = MemberIds(session)
        self._communities = CommunityIds(session)
        self._occurred = time_parser(session)
        self._write: Callable[[list[EventValues]], int]
        if is_sqlite(session):
            statement = dialect_insert(session, ActivityEvent).on_conflict_do_nothing(
                index_elements=["event_id"]
            )
            self._write = BatchWriter(session, statement, _WRITTEN).write
        else:
            self._write = _PostgresEventCopy(session).write

    def load(self, batch: Sequence[NumberedRow], width: int, pick: itemgetter[Any]) -> None:
        """Validate one batch, resolve its contact keys with one query, store it in one go."""
        reject = self.report.reject
        types, occurred_at = self._types, self._occurred
        communities = self._communities.known
        staged: list[_Staged] = []
        stage = staged.append
        for line, row in batch:
            if len(row) != width:
                if row:  # a blank line is skipped
                    reject(line, f"expected {width} fields, found {len(row)}")
                continue
            event_id, contact_key, type_name, occurred, community = pick(row)
            if not contact_key:
                reject(line, "missing contact_key")
                continue
            type_id = types.get(type_name)
            if type_id is None and (type_id := self._type_id(type_name)) is None:
                reject(line, f"unknown activity type {type_name!r}")
                continue
            try:
                when = occurred_at(occurred)
            except ValueError as error:
                reject(line, f"occurred_at: {error}" if occurred.strip() else "missing occurred_at")
                continue
            community_id = None
            if community and (community_id := communities.get(community)) is None:
                community_id = self._communities.find(community)
                if community_id is None:
                    reject(line, f"unknown community {community!r}")
                    continue
            if event_id and len(event_id) > _EVENT_ID_LENGTH:
                reject(line, f"event_id is longer than {_EVENT_ID_LENGTH} characters")
                continue
            stage((line, event_id or None, contact_key, type_id, when, community_id))
        self._store(staged)

    def _type_id(self, spelling: str) -> int | None:
        type_id = self._all_types.get(spelling.strip().lower())
        if type_id is not None:
            self._types[spelling] = type_id
        return type_id

    def _store(self, staged: list[_Staged]) -> None:
        member_ids = self._members.resolve({row[2] for row in staged})
        try:  # every contact key known: the common case, and the fast one
            values = [
                (event_id, member_ids[contact_key], type_id, when, community_id)
                for _, event_id, contact_key, type_id, when, community_id in staged
            ]
        except KeyError:
            values = []
            for line, event_id, contact_key, type_id, when, community_id in staged:
                member_id = member_ids.get(contact_key)
                if member_id is None:
                    self.report.reject(line, f"unknown contact_key {contact_key!r}")
                else:
                    values.append((event_id, member_id, type_id, when, community_id))
        stored = self._write(values)
        self.report.imported += stored
        self.report.duplicates += len(values) - stored


class _PostgresEventCopy:
    """Events COPYed into a temporary staging table, then inserted with one statement."""

    _STAGE = "kith_activity_stage"

    def __init__(self, session: Session) -> None:
        self._connection = session.connection()
        self._connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {self._STAGE} (position integer, "
            "event_id text, member_id integer, type_id smallint, occurred_at timestamptz, "
            "community_id integer) ON COMMIT DROP"
        )
        self._connection.exec_driver_sql(f"TRUNCATE {self._STAGE}")

    def write(self, values: list[EventValues]) -> int:
        if not values:
            return 0
        driver = self._connection.connection.dbapi_connection
        assert driver is not None
        with driver.cursor() as cursor:  # type: ignore[attr-defined]
            with cursor.copy(f"COPY {self._STAGE} FROM STDIN") as copy:
                for position, row in enumerate(values):
                    copy.write_row((position, *row))
            cursor.execute(
                f"INSERT INTO activity_events ({', '.join(_WRITTEN)}) "
                f"SELECT {', '.join(_WRITTEN)} FROM {self._STAGE} ORDER BY position "
                "ON CONFLICT (event_id) DO NOTHING"
            )
            stored: int = cursor.rowcount
            cursor.execute(f"TRUNCATE {self._STAGE}")
        return stored
