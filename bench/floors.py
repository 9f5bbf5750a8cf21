"""Import floors: the same rows, pre-parsed, stored by the raw driver into kith's own tables.

The floor database is migrated by kith (so its tables, keys, indexes and foreign keys are the
same as kith's), then loaded with plain sqlite3 `executemany` or psycopg `COPY`. Reading and
converting the CSV happens outside the timer, in chunks, so memory stays bounded; the time spent
on it is reported apart as `parse_seconds`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import Any

from bench.generate import COMMUNITIES, NOW
from bench.raw import RawDatabase
from kith.clock import parse_datetime
from kith.community.ingest import MEMBER_COLUMNS
from kith.db import SQLITE_BULK_PRAGMAS

CHUNK = 50_000

Target = tuple[str, tuple[str, ...]]  # a table and the columns loaded into it

MEMBER_INSERT: Target = ("members", (*MEMBER_COLUMNS, "custom_fields"))
MEMBERSHIP_INSERT: Target = ("memberships", ("member_id", "community_id", "role", "joined_at"))
ACTIVITY_INSERT: Target = (
    "activity_events",
    ("event_id", "member_id", "type_id", "occurred_at", "community_id"),
)

Converter = Callable[[list[str]], tuple[Any, ...]]


def load(db: RawDatabase, kind: str, path: Path) -> dict[str, Any]:
    """Store one file's rows; returns the seconds spent storing and those spent parsing."""
    if kind == "members":
        table, columns = MEMBER_INSERT
        convert = _member_converter(db)
    elif kind == "memberships":
        _add_communities(db)
        table, columns = MEMBERSHIP_INSERT
        convert = _membership_converter(db)
    else:
        table, columns = ACTIVITY_INSERT
        convert = _activity_converter(db)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows)
        chunks = _converted_chunks(rows, convert)
        if db.is_sqlite:
            for pragma in SQLITE_BULK_PRAGMAS:  # as kith's import transaction has them
                db.connection.execute(pragma)
            return _executemany(db, table, columns, chunks)
        return _copy(db, table, columns, chunks)


class _Timed:
    """Chunks of converted rows; counts the time spent producing them."""

    def __init__(self, chunks: Iterator[list[tuple[Any, ...]]]) -> None:
        self.chunks = chunks
        self.seconds = 0.0
        self.rows = 0

    def __iter__(self) -> Iterator[list[tuple[Any, ...]]]:
        while True:
            started = perf_counter()
            chunk = next(self.chunks, None)
            self.seconds += perf_counter() - started
            if chunk is None:
                return
            self.rows += len(chunk)
            yield chunk


def _converted_chunks(rows: Iterator[list[str]], convert: Converter) -> _Timed:
    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        while batch := list(islice(rows, CHUNK)):
            yield [convert(row) for row in batch]

    return _Timed(chunks())


def _executemany(
    db: RawDatabase, table: str, columns: tuple[str, ...], chunks: _Timed
) -> dict[str, Any]:
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    started = perf_counter()
    db.begin()
    for chunk in chunks:
        db.connection.executemany(statement, chunk)
    db.commit()
    total = perf_counter() - started
    return {"seconds": total - chunks.seconds, "parse_seconds": chunks.seconds, "rows": chunks.rows}


def _copy(db: RawDatabase, table: str, columns: tuple[str, ...], chunks: _Timed) -> dict[str, Any]:
    started = perf_counter()
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with (
        db.connection.transaction(),
        db.connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for chunk in chunks:
            for row in chunk:
                copy.write_row(row)
    total = perf_counter() - started
    return {"seconds": total - chunks.seconds, "parse_seconds": chunks.seconds, "rows": chunks.rows}


def _text(value: str) -> str | None:
    return value.strip() or None


def _moment(db: RawDatabase) -> Callable[[str], Any]:
    def moment(value: str) -> Any:
        return db.value(parse_datetime(value)) if value.strip() else None

    return moment


def _member_converter(db: RawDatabase) -> Converter:
    moment = _moment(db)
    yes: Any = 1 if db.is_sqlite else True
    no: Any = 0 if db.is_sqlite else False

    def convert(row: list[str]) -> tuple[Any, ...]:
        chapter = row[11].strip()
        return (
            row[0].strip(),
            _text(row[1]),
            _text(row[2]),
            _text(row[3]),
            _text(row[4]),
            _text(row[5]),
            _text(row[6]),
            _text(row[7]),
            moment(row[8]),
            moment(row[9]),
            yes if row[10].strip().lower() == "true" else no,
            json.dumps({"chapter": chapter} if chapter else {}),
        )

    return convert


def _member_ids(db: RawDatabase) -> dict[str, int]:
    return {key: id_ for id_, key in db.all("SELECT id, contact_key FROM members")}


def _add_communities(db: RawDatabase) -> None:
    if db.all("SELECT id FROM communities"):
        return
    db.begin()
    for name, _share in COMMUNITIES:
        db.connection.execute(
            db.sql("INSERT INTO communities (name, created_at) VALUES (?, ?)"),
            (name, db.value(NOW)),
        )
    db.commit()


def _membership_converter(db: RawDatabase) -> Converter:
    members = _member_ids(db)
    communities = db.names("communities")
    moment = _moment(db)

    def convert(row: list[str]) -> tuple[Any, ...]:
        return (members[row[0]], communities[row[1]], _text(row[2]), moment(row[3]))

    return convert


def _activity_converter(db: RawDatabase) -> Converter:
    members = _member_ids(db)
    communities = db.names("communities")
    types = db.names("activity_types")
    moment = _moment(db)

    def convert(row: list[str]) -> tuple[Any, ...]:
        community = row[4]
        return (
            _text(row[0]),
            members[row[1]],
            types[row[2]],
            moment(row[3]),
            communities[community] if community else None,
        )

    return convert
