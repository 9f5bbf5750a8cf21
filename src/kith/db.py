"""Engines and sessions: SQLite with its pragmas and explicit BEGIN, or PostgreSQL (psycopg 3).

SQLite needs care (see ARCHITECTURE.md): Python's sqlite3 does not BEGIN before a SELECT, so we
take over transaction control and emit BEGIN ourselves; writers take BEGIN IMMEDIATE so that two
writers queue on busy_timeout instead of failing with SQLITE_BUSY halfway through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import BigInteger, DateTime, Engine, Integer, create_engine, event, make_url
from sqlalchemy.engine import Connection, CursorResult, Dialect, Result
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from kith.clock import as_utc
from kith.private_files import touch_private_file
from kith.sql import register_sqlite_functions

# An import's transaction on SQLite: a larger page cache, and no per-row foreign-key lookups
# (importers resolve every id they write inside that same write-locked transaction).
SQLITE_BULK_PRAGMAS = ("PRAGMA foreign_keys=OFF", "PRAGMA cache_size=-1048576")
SQLITE_USUAL_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA cache_size=-262144")
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
    *SQLITE_USUAL_PRAGMAS,
    "PRAGMA temp_store=MEMORY",
    # reads through a memory map skip a system call per page: index seeks get ~2x faster
    "PRAGMA mmap_size=4294967296",
)

# How a UTC datetime is stored as text on SQLite; bulk loaders format values the same way so
# that comparisons in SQL (which are text comparisons there) stay correct.
SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# Constraint and index names on both sides, so that migrations can name what they change.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit keys on PostgreSQL; on SQLite only INTEGER PRIMARY KEY aliases the rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# The largest key of a table keyed by Integer (PostgreSQL's int4): a larger number names no row,
# and PostgreSQL refuses to compare it with such a key at all.
MAX_ID = 2**31 - 1


def as_id(text: str) -> int | None:
    """The id `text` spells: ASCII digits within 1..MAX_ID, else None ("³", "99999999999" and
    "-1" name no row, though Python's int() reads the first two)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime: timestamptz on PostgreSQL, UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def refresh_statistics(session: Session, *tables: str) -> None:
    """Let the query planner see what a bulk load changed.

    Without statistics SQLite may read a per-member activity count through the (type, time)
    index instead of the (member, time) one: minutes instead of a second at ten million events.
    A sampled ANALYZE takes milliseconds there; PostgreSQL samples on its own.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")
    for table in tables:
        connection.exec_driver_sql(f"ANALYZE {table}")


def affected(result: Result[Any]) -> int:
    """The number of rows an INSERT, UPDATE or DELETE statement changed."""
    return cast(CursorResult[Any], result).rowcount


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and route them to psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One database (a side's): an engine plus read and write sessions."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = _create_engine(self.url)
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._bulk_writer = self.engine.execution_options(sqlite_begin="IMMEDIATE", bulk=True)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session; its transaction is rolled back at the end."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write session: committed if the block succeeds, rolled back if it raises."""
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def bulk_transaction(self) -> Iterator[Session]:
        """A write session for imports that write ids they resolved themselves, in bulk.

        On SQLite it skips foreign-key checks and has a 1 GiB page cache; both are restored when
        the connection goes back to the pool. On PostgreSQL it is an ordinary transaction.
        """
        with Session(self._bulk_writer, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    if parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        # made before SQLite opens it, which would create it 0644 (and its -wal, -shm alike)
        event.listen(engine, "do_connect", lambda *_: touch_private_file(path))
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    event.listen(engine, "checkin", _sqlite_checkin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()
    register_sqlite_functions(dbapi_connection)


def _sqlite_begin(connection: Connection) -> None:
    options = connection.get_execution_options()
    if options.get("bulk"):  # before BEGIN: foreign_keys cannot change inside a transaction
        for pragma in SQLITE_BULK_PRAGMAS:
            connection.exec_driver_sql(pragma)
        connection.info["bulk"] = True
    connection.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")


def _sqlite_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    if dbapi_connection is not None and record.info.pop("bulk", False):
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_USUAL_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()
