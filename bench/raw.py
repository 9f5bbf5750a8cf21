"""Raw connections for floors and checks: sqlite3 or psycopg directly, no SQLAlchemy, no ORM."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from kith.db import SQLITE_DATETIME_FORMAT, SQLITE_PRAGMAS


class RawDatabase:
    """One database on the raw driver, with kith's own SQLite pragmas so the comparison is fair.

    SQL is written with `?` parameters and datetimes as values; both are adapted per backend.
    """

    def __init__(self, backend: str, target: str) -> None:
        self.backend = backend
        self.connection: Any
        if backend == "sqlite":
            self.connection = sqlite3.connect(target, isolation_level=None)
            for pragma in SQLITE_PRAGMAS:
                self.connection.execute(pragma)
        else:
            self.connection = psycopg.connect(target, autocommit=True)

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    def sql(self, text: str) -> str:
        return text if self.is_sqlite else text.replace("?", "%s")

    def value(self, value: Any) -> Any:
        if self.is_sqlite and isinstance(value, datetime):
            return value.astimezone(UTC).strftime(SQLITE_DATETIME_FORMAT)
        return value

    def values(self, values: Sequence[Any]) -> list[Any]:
        return [self.value(value) for value in values]

    def all(self, text: str, values: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.execute(self.sql(text), self.values(values))
        return list(cursor.fetchall())

    def scalar(self, text: str, values: Sequence[Any] = ()) -> Any:
        return self.all(text, values)[0][0]

    def begin(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE" if self.is_sqlite else "BEGIN")

    def commit(self) -> None:
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()

    def names(self, table: str) -> dict[str, int]:
        """name -> id of activity_types or communities."""
        return {name: id_ for id_, name in self.all(f"SELECT id, name FROM {table}")}
