"""`kith db copy`: an embedded installation's SQLite data moved into PostgreSQL, so that it can
grow onto several machines (docs/deployment.md).

Each side goes into a database of its own (both sides have an `alembic_version` table). The
target is migrated to the newest revision first; it must hold nothing but the rows a migration
writes (the built-in activity types, the Main folder), which the copy replaces by the source's
own. Every table is then copied in foreign-key order, as it is stored: values are read from
SQLite as text, numbers and bytes and streamed into PostgreSQL with COPY, whose text input
parses them for the target column's type (the session's time zone is UTC, as SQLite's stored
times are). All of a side is one transaction on the target: a failure leaves it as `kith init`
would (a rerun may follow). Finally
the sequences behind the id columns move past the largest id copied.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kith.db import Database, refresh_statistics
from kith.errors import Conflict, InvalidInput, NotFound
from kith.migrate import current_revision, head_revision, upgrade

COPY_BATCH = 10_000
# The migration's own bookkeeping: the target's migration writes it.
NOT_COPIED = ("alembic_version",)
# Tables the target's triggers write into as the others are copied (the community's note of
# changed members, kith.community.live_lists): copied last, over what the triggers noted.
WRITTEN_BY_TRIGGERS = ("member_changes",)


@dataclass(frozen=True)
class TableCopied:
    table: str
    rows: int


def copy_sides(copies: Mapping[str, tuple[Database, Database]]) -> dict[str, list[TableCopied]]:
    """Copy each side's SQLite database (side -> (source, target)) into an empty PostgreSQL
    database; the rows per table of each.

    Every side is checked before any is copied: a source that is not SQLite or not at the
    newest revision, or a target that is not PostgreSQL or holds data, is refused with nothing
    changed anywhere.
    """
    for side, (source, target) in copies.items():
        _check_source(source, side)
        _check_target(target, side)
    return {side: _copy(source, target, side) for side, (source, target) in copies.items()}


def copy_side(source: Database, target: Database, side: str) -> list[TableCopied]:
    """One side's copy (see copy_sides)."""
    return copy_sides({side: (source, target)})[side]


def _copy(source: Database, target: Database, side: str) -> list[TableCopied]:
    upgrade(target, side)
    with (
        source.engine.connect() as reading,
        reading.begin(),  # one read transaction: a consistent snapshot of the source
        target.engine.connect() as writing,
        writing.begin(),
    ):
        writing.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        tables = _tables(writing)
        for table in reversed(tables):  # the rows the migration wrote, replaced by the source's
            writing.exec_driver_sql(f'DELETE FROM "{table.name}"')
        copied = []
        for table in sorted(tables, key=lambda table: table.name in WRITTEN_BY_TRIGGERS):
            if table.name in WRITTEN_BY_TRIGGERS:
                writing.exec_driver_sql(f'DELETE FROM "{table.name}"')
            copied.append(TableCopied(table.name, _copy_table(reading, writing, table)))
        for table in tables:
            _reset_sequences(writing, table)
        with Session(bind=writing) as session:
            refresh_statistics(session, *(table.name for table in tables))
    return copied


def _check_source(source: Database, side: str) -> None:
    if not source.is_sqlite:
        raise InvalidInput(
            f"the {side} database is already {without_password(source.url)}: kith db copy moves an "
            "embedded installation's SQLite files (use pg_dump and pg_restore between servers)"
        )
    path = make_url(source.url).database
    if not path or not Path(path).is_file():
        raise NotFound(f"there is no {side} database at {path}: check KITH_DATA_DIR")
    revision, head = current_revision(source), head_revision(side)
    if revision != head:
        raise Conflict(
            f"the {side} database {path} is at revision {revision or 'none'}, not {head}: "
            "run `kith init` with this version of kith first"
        )


def _check_target(target: Database, side: str) -> None:
    """The target must be PostgreSQL and hold no rows but those a migration writes."""
    shown = without_password(target.url)
    if target.is_sqlite or target.engine.dialect.name != "postgresql":
        raise InvalidInput(f"the {side} target must be a postgresql:// URL, not {shown}")
    seeded = _seeded_rows(side)
    try:
        with target.engine.connect() as connection:
            held = []
            for name in inspect(connection).get_table_names():
                if name in NOT_COPIED:
                    continue
                limit = seeded.get(name, 0) + 1
                count = connection.scalar(
                    text(f'SELECT count(*) FROM (SELECT 1 FROM "{name}" LIMIT {limit}) AS held')
                )
                if count and count > seeded.get(name, 0):
                    held.append(name)
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        hint = " (create it first: createdb NAME)" if "does not exist" in reason else ""
        raise InvalidInput(f"cannot reach the {side} target {shown}: {reason}{hint}") from None
    if held:
        raise Conflict(
            f"the {side} target {shown} already holds data (in {', '.join(sorted(held))}); "
            "kith db copy only fills an empty database"
        )


def _seeded_rows(side: str) -> dict[str, int]:
    """How many rows a fresh migration writes into each of the side's tables."""
    with tempfile.TemporaryDirectory(prefix="kith-db-copy-") as folder:
        fresh = Database(f"sqlite:///{Path(folder) / 'fresh.db'}")
        try:
            upgrade(fresh, side)
            names = inspect(fresh.engine).get_table_names()
            with fresh.session() as session:
                counts = {
                    name: session.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0
                    for name in names
                }
        finally:
            fresh.dispose()
    return {name: count for name, count in counts.items() if count}


@dataclass(frozen=True)
class _Table:
    name: str
    columns: list[str]
    key: list[str]  # the primary key's columns


def _tables(connection: Connection) -> list[_Table]:
    """The target's tables, each after the tables its foreign keys refer to."""
    inspector = inspect(connection)
    names = [name for name, _ in inspector.get_sorted_table_and_fkc_names() if name]
    return [
        _Table(
            name,
            [column["name"] for column in inspector.get_columns(name)],
            list(inspector.get_pk_constraint(name)["constrained_columns"]),
        )
        for name in names
        if name not in NOT_COPIED
    ]


def _copy_table(reading: Connection, writing: Connection, table: _Table) -> int:
    present = {column["name"] for column in inspect(reading).get_columns(table.name)}
    absent = [name for name in table.columns if name not in present]
    if absent:
        raise Conflict(
            f"the source's table {table.name} lacks {', '.join(absent)}: its schema is not the "
            "one its revision says; run `kith init` on it and try again"
        )
    listed = ", ".join(f'"{name}"' for name in table.columns)
    order = ", ".join(f'"{name}"' for name in table.key) or "rowid"
    cursor = reading.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f'SELECT {listed} FROM "{table.name}" ORDER BY {order}')
    driver = writing.connection.driver_connection
    rows = 0
    statement = f'COPY "{table.name}" ({listed}) FROM STDIN'
    with driver.cursor() as copying, copying.copy(statement) as copy:  # type: ignore[union-attr]
        for batch in _batches(cursor):
            for row in batch:
                copy.write_row(row)
            rows += len(batch)
    cursor.close()
    return rows


def _batches(cursor: Any) -> Iterator[Sequence[Any]]:
    while batch := cursor.fetchmany(COPY_BATCH):
        yield batch


def _reset_sequences(connection: Connection, table: _Table) -> None:
    """Each sequence behind a column of `table` continues after the largest value copied."""
    for column in table.columns:
        sequence = connection.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": f'"{table.name}"', "column": column},
        )
        if sequence is None:
            continue
        connection.execute(
            text(
                f'SELECT setval(:sequence, COALESCE(MAX("{column}"), 0) + 1, false) '
                f'FROM "{table.name}"'
            ),
            {"sequence": sequence},
        )


def without_password(url: str) -> str:
    """A database URL fit to print: its password masked."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql+psycopg":  # as the user wrote it (kith.db adds psycopg)
        parsed = parsed.set(drivername="postgresql")
    return parsed.render_as_string(hide_password=True)
