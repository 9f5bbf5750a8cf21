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
# SQLite's page cache for the staging tables, which are kept in a file (see _settle)
STAGING_CACHE_KIB = 32 * 1024
# and for the database, during work on a few of its pages (a delta sync)
SMALL_CACHE_KIB = 64 * 1024

Item = TypeVar("Item")


@contextmanager
def staging_tables(db: Database, tables: MetaData, *, small: bool = False) -> Iterator[Connection]:
    """A connection of its own (temporary tables belong to one) with `tables` made empty.
    `small`: the work reads and writes a few pages here and there of a large database (a delta
    sync), which SQLite then does through a small page cache (see _settle)."""
    with db.engine.connect() as connection:
        usual = _settle(connection, small=small)
        try:
            with connection.begin():  # touches only the temporary tables: locks nothing
                tables.drop_all(connection)
                tables.create_all(connection)
            yield connection
        finally:
            connection.rollback()
            _restore(connection, usual)
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


def _settle(connection: Connection, *, small: bool) -> dict[str, Any]:
    """On SQLite, keep the staging tables in a temporary file with a bounded page cache rather
    than in memory, where kith's connections keep temporary tables: the memory then stays
    bounded whatever the size of the stream. With `small`, the database itself is read through
    a page cache of SMALL_CACHE_KIB rather than through the memory map, whose pages count as
    the process's own, and the work never checkpoints the log (which copies every page it wrote
    into the database): the next writer does. Returns the connection's usual settings."""
    if connection.dialect.name != "sqlite":
        return {}
    pragmas: dict[str, Any] = {"temp_store": "FILE", "temp.cache_size": -STAGING_CACHE_KIB}
    if small:
        pragmas |= {"mmap_size": 0, "cache_size": -SMALL_CACHE_KIB, "wal_autocheckpoint": 0}
    driver: Any = connection.connection.driver_connection  # outside a transaction, as asked
    usual = {name: driver.execute(f"PRAGMA {name}").fetchone()[0] for name in pragmas}
    for name, value in pragmas.items():
        driver.execute(f"PRAGMA {name} = {value}")
    return usual


def _restore(connection: Connection, usual: dict[str, Any]) -> None:
    """Give the connection back its usual settings; on SQLite, its usual temporary storage
    also deletes the staging tables at once, which dropping them would do page by page."""
    driver: Any = connection.connection.driver_connection
    for name, value in usual.items():
        driver.execute(f"PRAGMA {name} = {value}")
