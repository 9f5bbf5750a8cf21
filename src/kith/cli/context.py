"""What every command shares: settings, the side databases, error mapping and JSON output."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from kith.clock import parse_datetime, utcnow
from kith.config import get_settings
from kith.db import Database
from kith.errors import InvalidInput, KithError, describe

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
# a missing table in SQLite's words (`no such table: x`), or PostgreSQL's (`relation "x" does`)
_NO_SUCH_TABLE = re.compile(r'(?:no such table: |relation ")(?P<table>[^"\s]+)')


def community_db() -> Database:
    return Database(get_settings().community_url)


def marketing_db() -> Database:
    return Database(get_settings().marketing_url)


def print_json(value: Any) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())


def print_json_stream(values: Iterable[Any]) -> None:
    """A JSON array written an element at a time, for outputs that may hold a million rows."""
    typer.echo("[", nl=False)
    for index, value in enumerate(values):
        typer.echo(("," if index else "") + orjson.dumps(value).decode())
    typer.echo("]")


def fail(message: str, code: int = 1) -> NoReturn:
    # a message quotes input (a list named "[b]Big[/b]"): printed as it is, never as markup
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a domain error into its message on stderr and the error's exit code."""
    try:
        yield
    except KithError as error:
        fail(str(error), error.exit_code)


@contextmanager
def no_tracebacks(debug: Callable[[], bool]) -> Iterator[None]:
    """Every command's last resort: a failure that no command answered is told in one plain
    sentence with exit 1 (a domain error as user_errors does), its traceback only if `debug()`
    (`kith --debug`, or KITH_DEBUG=1)."""
    try:
        with user_errors():
            yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise  # how a command ends on purpose (typer.Exit, a bad option ...)
    except Exception as error:
        if debug():
            raise
        fail(unexpected_failure(error))


def unexpected_failure(error: Exception) -> str:
    """What went wrong, in a sentence a user can act on."""
    table = _missing_table(error)
    if table is not None:
        return (
            f"the database has no table {table}: run `kith init` to create Kith's databases "
            "(or point KITH_DATA_DIR or the database URLs at ones it made)"
        )
    return f"{describe(error)}; run again with --debug (or KITH_DEBUG=1) to see where"


def _missing_table(error: Exception) -> str | None:
    """The table a database statement failed for lack of (SQLite's words, then PostgreSQL's)."""
    if not isinstance(error, DBAPIError):
        return None
    found = _NO_SUCH_TABLE.search(str(error.orig))
    return None if found is None else found["table"]


def instant(value: str | None, option: str = "--now") -> datetime:
    """The moment a command acts at: `value` (an ISO date or datetime) or now."""
    if value is None:
        return utcnow()
    try:
        return parse_datetime(value)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=option) from None


def read_json_file(path: Path, what: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InvalidInput(f"{what} file {str(path)!r} does not exist") from None
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"{what} file {str(path)!r} is not valid JSON: {error}") from None
