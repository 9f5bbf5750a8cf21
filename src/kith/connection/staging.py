"""Staging: what the community sends, held in temporary tables of the marketing database.

A sync and the activity pull read the community first, into staging tables, without holding
the marketing database's write lock; then they apply what they staged in one transaction of
set-based statements. A failure anywhere leaves the marketing tables as they were, and the
staging tables are gone afterwards whatever happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Connection, MetaData, Table
from sqlalchemy.orm import Session

from kith.db import Database

STAGE_BATCH = 10_000
# SQLite's page cache for the staging tables, which are kept in a file (see _stage_on_disk)
STAGING_CACHE_KIB = 32 * 1024

Item = TypeVar("Item")


@contextmanager
def staging_tables(db: Database, tables: MetaData) -> Iterator[Connection]:
    """A connection of its own (temporary tables belong to one) with `tables` made empty."""
    with db.engine.connect() as connection:
        usual_storage = _stage_on_disk(connection)
        try:
            with connection.begin():  # touches only the temporary tables: locks nothing
                tables.drop_all(connection)
                tables.create_all(connection)
            yield connection
        finally:
            connection.rollback()
            _restore_storage(connection, usual_storage)
            with connection.begin():
                tables.drop_all(connection)


@contextmanager
def applying(connection: Connection) -> Iterator[Session]:
    """The write transaction that applies what was staged, on the staging connection."""
    # preserve_rowcount: psycopg 3 forgets an INSERT's count once its cursor closes
    connection.execution_options(sqlite_begin="IMMEDIATE", preserve_rowcount=True)
    with Session(connection, expire_on_commit=False) as session, session.begin():
        yield session


def write_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Write rows (tuples of `columns`, in stored form) into a staging table by the driver
    itself: executemany on SQLite, COPY on PostgreSQL, with none of SQLAlchemy's work per row."""
    names = ", ".join(columns)
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        statement = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})"
        cursor = driver.cursor()
        for batch in batches(rows):
            cursor.executemany(statement, batch)
        return
    with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def batches(items: Iterable[Item], size: int = STAGE_BATCH) -> Iterator[list[Item]]:
    """The items, `size` at a time: what one staging statement writes."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _stage_on_disk(connection: Connection) -> int | None:
    """On SQLite, keep the staging tables in a temporary file with a bounded page cache rather
    than in memory, where kith's connections keep temporary tables: the memory then stays
    bounded whatever the size of the stream. Returns the connection's usual setting."""
    if connection.dialect.name != "sqlite":
        return None
    driver = connection.connection.driver_connection  # outside a transaction, as SQLite asks
    usual: int = driver.execute("PRAGMA temp_store").fetchone()[0]  # type: ignore[union-attr]
    driver.execute("PRAGMA temp_store = FILE")  # type: ignore[union-attr]
    driver.execute(f"PRAGMA temp.cache_size = -{STAGING_CACHE_KIB}")  # type: ignore[union-attr]
    return usual


def _restore_storage(connection: Connection, usual: int | None) -> None:
    """Give the connection back its usual temporary storage; on SQLite that also deletes the
    staging tables at once, which dropping them would do page by page."""
    if usual is not None:
        connection.connection.driver_connection.execute(  # type: ignore[union-attr]
            f"PRAGMA temp_store = {usual}"
        )
