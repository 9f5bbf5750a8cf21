"""Import floors: the same rows, pre-parsed, stored by the raw driver into kith's own tables.

The floor database is migrated by kith (so its tables, keys, indexes and foreign keys are the
same as kith's), then loaded with plain sqlite3 `executemany` or psycopg `COPY`. Reading and
converting the CSV happens outside the timer, in chunks, so memory stays bounded; the time spent
on it is reported apart as `parse_seconds`.

Subscribers are stored as kith stores the rows it accepts: the email in email-validator's
normalized form (the call kith makes, its share of `parse_seconds` reported as
`email_seconds`), rows with a malformed email or an unknown status left out. A re-import's floor
updates every stored subscriber by id with the same values (`executemany` on both backends).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import closing
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import Any

from bench.generate import COMMUNITIES, NOW
from bench.raw import RawDatabase
from kith.clock import parse_datetime
from kith.community.ingest import MEMBER_COLUMNS
from kith.db import SQLITE_BULK_PRAGMAS
from kith.emails import InvalidEmail, normalize_email
from kith.marketing.models import SUBSCRIBER_STATUSES

CHUNK = 50_000

Target = tuple[str, tuple[str, ...]]  # a table and the columns loaded into it

MEMBER_INSERT: Target = ("members", (*MEMBER_COLUMNS, "custom_fields"))
MEMBERSHIP_INSERT: Target = ("memberships", ("member_id", "community_id", "role", "joined_at"))
ACTIVITY_INSERT: Target = (
    "activity_events",
    ("event_id", "member_id", "type_id", "occurred_at", "community_id"),
)
SUBSCRIBER_VALUES = ("email", "email_key", "remote_id", "first_name", "last_name", "status")
SUBSCRIBER_INSERT: Target = (
    "subscribers",
    (*SUBSCRIBER_VALUES, "fields", "source", "created_at", "updated_at"),
)
SUBSCRIBER_UPDATE = (
    f"UPDATE subscribers SET {', '.join(f'{name} = ?' for name in SUBSCRIBER_VALUES)},"
    " fields = ?, updated_at = ? WHERE id = ?"
)

# A row's values in the target's order, or None for a row kith rejects (not stored)
Converter = Callable[[list[str]], tuple[Any, ...] | None]


def load(db: RawDatabase, kind: str, path: Path) -> dict[str, Any]:
    """Store one file's rows; returns the seconds spent storing and those spent parsing.

    `kind` is members, memberships, activity, subscribers, or subscriber_updates (the
    subscribers file again, over the subscribers a load of it stored).
    """
    emails = _EmailCheck()
    if kind == "members":
        table, columns = MEMBER_INSERT
        convert = _member_converter(db)
    elif kind == "memberships":
        _add_communities(db)
        table, columns = MEMBERSHIP_INSERT
        convert = _membership_converter(db)
    elif kind == "activity":
        table, columns = ACTIVITY_INSERT
        convert = _activity_converter(db)
    elif kind == "subscribers":
        table, columns = SUBSCRIBER_INSERT
        convert = _subscriber_converter(db, emails)
    else:
        convert = _subscriber_update_converter(db, emails)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows)
        chunks = _converted_chunks(rows, convert)
        if db.is_sqlite:
            for pragma in SQLITE_BULK_PRAGMAS:  # as kith's import transaction has them
                db.connection.execute(pragma)
        if kind == "subscriber_updates":
            result = _executemany(db, SUBSCRIBER_UPDATE, chunks)
        elif db.is_sqlite:
            result = _executemany(db, _insert(table, columns), chunks)
        else:
            result = _copy(db, table, columns, chunks)
    if kind.startswith("subscriber"):
        result["email_seconds"] = emails.seconds
    return result


class _Timed:
    """Chunks of converted rows; counts the time spent producing them."""

    def __init__(self, chunks: Iterator[list[tuple[Any, ...]]]) -> None:
        self.chunks = chunks
        self.seconds = 0.0
        self.rows = 0
        self.rejected = 0

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
            converted = [values for row in batch if (values := convert(row)) is not None]
            timed.rejected += len(batch) - len(converted)
            yield converted

    timed = _Timed(chunks())
    return timed


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _executemany(db: RawDatabase, statement: str, chunks: _Timed) -> dict[str, Any]:
    """One statement per row in one transaction (psycopg pipelines an executemany)."""
    started = perf_counter()
    db.begin()
    with closing(db.connection.cursor()) as cursor:
        for chunk in chunks:
            cursor.executemany(db.sql(statement), chunk)
    db.commit()
    total = perf_counter() - started
    return _result(total, chunks)


def _result(total: float, chunks: _Timed) -> dict[str, Any]:
    return {
        "seconds": total - chunks.seconds,
        "parse_seconds": chunks.seconds,
        "rows": chunks.rows,
        "rejected": chunks.rejected,
    }


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
    return _result(total, chunks)


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


class _EmailCheck:
    """kith's email normalization (email-validator, syntax only), timed: the share of the
    floor's parsing that kith also pays in its import, per row."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def normalize(self, text: str) -> str | None:
        started = perf_counter()
        try:
            return normalize_email(text)
        except InvalidEmail:
            return None
        finally:
            self.seconds += perf_counter() - started


def _subscriber_converter(db: RawDatabase, emails: _EmailCheck) -> Converter:
    """A file row as the subscriber kith creates from it; the five standard columns only."""
    now = db.value(NOW)

    def convert(row: list[str]) -> tuple[Any, ...] | None:
        text, remote_id, first_name, last_name, status = row  # SUBSCRIBER_COLUMNS, as generated
        email = emails.normalize(text)
        status = status.strip().lower()
        if email is None or (status and status not in SUBSCRIBER_STATUSES):
            return None
        return (
            email,
            email.lower(),
            _text(remote_id),
            _text(first_name),
            _text(last_name),
            status or "subscribed",
            "{}",  # no personalization fields; JSON text, which PostgreSQL's COPY parses too
            "import",
            now,
            now,
        )

    return convert


def _subscriber_update_converter(db: RawDatabase, emails: _EmailCheck) -> Converter:
    """A file row as the UPDATE of the subscriber it names: by Remote ID, else by email (a
    subscriber without a Remote ID has an email no other one has)."""
    by_remote_id: dict[str, int] = {}
    by_email_key: dict[str, int] = {}
    for id_, remote_id, key in db.all("SELECT id, remote_id, email_key FROM subscribers"):
        if remote_id is None:
            by_email_key[key] = id_
        else:
            by_remote_id[remote_id] = id_
    values_of = _subscriber_converter(db, emails)

    def convert(row: list[str]) -> tuple[Any, ...] | None:
        values = values_of(row)
        if values is None:
            return None
        email, key, remote_id, first, last, status, fields, _source, _created, updated = values
        id_ = by_remote_id[remote_id] if remote_id else by_email_key[key]
        return (email, key, remote_id, first, last, status, fields, updated, id_)

    return convert
