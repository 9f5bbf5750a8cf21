"""SQL functions that must behave the same on SQLite and PostgreSQL.

SQLite's lower() folds ASCII only and its trim() strips spaces only; these constructs compile to
PostgreSQL's own functions and, on SQLite, to Python functions registered on every connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

BLANKS = " \t\r\n\f\v"


class fold(GenericFunction[str]):
    """Text lower-cased for case-insensitive comparison, beyond ASCII on both backends."""

    type = String()
    inherit_cache = True


class strip_blanks(GenericFunction[str]):
    """Text without leading and trailing whitespace (tabs and newlines too)."""

    type = String()
    inherit_cache = True


class utc_day(GenericFunction[str]):
    """The UTC day of a kith.db.UTCDateTime column, as text 'YYYY-MM-DD' on both backends."""

    type = String()
    inherit_cache = True


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # stored as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff'
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(fold)
def _fold_default(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(fold, "sqlite")
def _fold_sqlite(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"kith_fold({compiler.process(element.clauses, **kw)})"


@compiles(strip_blanks)
def _strip_default(element: strip_blanks, compiler: SQLCompiler, **kw: Any) -> str:
    return f"btrim({compiler.process(element.clauses, **kw)}, E' \\t\\r\\n\\f\\v')"


@compiles(strip_blanks, "sqlite")
def _strip_sqlite(element: strip_blanks, compiler: SQLCompiler, **kw: Any) -> str:
    return f"kith_strip_blanks({compiler.process(element.clauses, **kw)})"


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_function("kith_fold", 1, _py_fold, deterministic=True)
    dbapi_connection.create_function("kith_strip_blanks", 1, _py_strip, deterministic=True)


def _py_fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _py_strip(value: Any) -> Any:
    return value.strip(BLANKS) if isinstance(value, str) else value
