"""Bulk reads and writes for imports: one statement per batch of rows, never one per row.

On SQLite a write is compiled once by SQLAlchemy and then run through the driver's executemany
with values already in stored form (see timestamps.py; JSON as text): SQLAlchemy's per-value
processing would otherwise cost more than the insert itself at millions of rows. On PostgreSQL
the same statement runs through SQLAlchemy, which pipelines the executemany with psycopg.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, Update, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session

Insert = sqlite.Insert | postgresql.Insert
# What a BatchWriter runs: an INSERT, or an UPDATE whose values and conditions are bindparams.
BatchStatement = Insert | Update


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def dialect_insert(session: Session, model: type[DeclarativeBase]) -> Insert:
    """An INSERT into the model's table that knows ON CONFLICT in this session's dialect."""
    return sqlite.insert(model) if is_sqlite(session) else postgresql.insert(model)


def among(
    session: Session,
    column: InstrumentedAttribute[Any] | ColumnElement[Any],
    values: Collection[Any],
) -> ColumnElement[bool]:
    """`column IN (values)` with the values bound as one parameter, however many there are.

    A plain IN binds one parameter per value, which SQLAlchemy renders anew on every execution
    (slow for ten thousand keys) and which the backends cap.
    """
    if is_sqlite(session):
        items = func.json_each(bindparam(None, orjson.dumps(list(values)).decode()))
        return column.in_(select(items.table_valued("value").c.value))
    # a plain text array: a cast to varchar(n) would truncate longer values into false matches
    element = String() if isinstance(column.type, String) else column.type
    return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(element)))


class BatchWriter:
    """One INSERT (usually with ON CONFLICT) or UPDATE executed for a whole batch of rows at once.

    Rows are tuples in `columns` order holding values in stored form: times from
    kith.csvimport.timestamps.time_parser, documents from `document()`.
    """

    def __init__(self, session: Session, statement: BatchStatement, columns: Sequence[str]) -> None:
        self._connection = session.connection()
        self._columns = tuple(columns)
        self._statement = statement
        self.is_sqlite = self._connection.dialect.name == "sqlite"
        self._sql = ""
        self._reorder: itemgetter[Any] | None = None
        if self.is_sqlite:
            compiled = statement.compile(
                dialect=self._connection.dialect, column_keys=list(self._columns)
            )
            order = tuple(compiled.positiontup or ())
            if sorted(order) != sorted(self._columns):
                raise ValueError(f"statement binds {order}, not the columns {self._columns}")
            self._sql = str(compiled)
            if order != self._columns:
                self._reorder = itemgetter(*(self._columns.index(name) for name in order))

    def document(self, value: dict[str, Any]) -> dict[str, Any] | str:
        """A JSON column's value in stored form."""
        return orjson.dumps(value).decode() if self.is_sqlite else value

    def write(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Run the statement for every row; the number of rows it inserted or updated."""
        if not rows:
            return 0
        if self.is_sqlite:
            reorder = self._reorder
            params = list(rows) if reorder is None else [reorder(row) for row in rows]
            return self._connection.exec_driver_sql(self._sql, params).rowcount
        columns = self._columns
        return self._connection.execute(
            self._statement, [dict(zip(columns, row, strict=True)) for row in rows]
        ).rowcount
