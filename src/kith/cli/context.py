"""What every command shares: settings, the side databases, error mapping and JSON output."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console

from kith.clock import parse_datetime, utcnow
from kith.config import get_settings
from kith.db import Database
from kith.errors import InvalidInput, KithError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


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
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a domain error into its message on stderr and the error's exit code."""
    try:
        yield
    except KithError as error:
        fail(str(error), error.exit_code)


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
