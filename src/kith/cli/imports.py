"""What every CSV import command shares: the streamed file, the run and the printed report."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Protocol, TextIO

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from sqlalchemy.orm import Session

from kith.cli.context import console, fail, print_json, user_errors
from kith.clock import utcnow
from kith.csvimport.report import ImportRejected, ImportReport
from kith.db import Database
from kith.errors import InvalidInput

FILE_HELP = "CSV file (UTF-8) whose header names the columns."
STRICT_HELP = "Import nothing, and exit 1, if any row is rejected."
JSON_HELP = "Print a JSON summary."


class Importer(Protocol):
    def __call__(
        self, session: Session, rows: Iterable[list[str]], *, now: datetime, strict: bool
    ) -> ImportReport: ...


def run_import(
    open_db: Callable[[], Database], importer: Importer, file: Path, *, strict: bool, as_json: bool
) -> None:
    """Run one import of `file` in a bulk transaction of the database `open_db` opens, and print
    its report; a strict import that meets a bad row prints the rows and exits 1."""
    db = open_db()
    try:
        with user_errors():
            try:
                with csv_rows(file) as rows, db.bulk_transaction() as session:
                    report = importer(session, rows, now=utcnow(), strict=strict)
            except ImportRejected as rejected:
                _show(rejected.report, as_json)
                fail(str(rejected), rejected.exit_code)
    finally:
        db.dispose()
    _show(report, as_json)


def _show(report: ImportReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_json())
        return
    typer.echo(report.summary())
    for row in report.rejected:
        typer.echo(f"line {row['line']}: {row['reason']}")


@contextmanager
def csv_rows(path: Path) -> Iterator[Iterator[list[str]]]:
    """The file's CSV rows, read as a stream; a progress bar by bytes read on a terminal.

    A file that is not UTF-8 or not CSV stops the import with the line at fault.
    """
    with ExitStack() as stack:
        text: TextIO
        if console.is_terminal:
            progress = stack.enter_context(_progress())
            text = progress.open(path, "r", encoding="utf-8-sig", newline="", description=path.name)
        else:
            text = path.open(encoding="utf-8-sig", newline="")
        reader = csv.reader(stack.enter_context(text))
        try:
            yield reader
        except csv.Error as error:
            raise InvalidInput(f"{path}, line {reader.line_num}: {error}") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{path} is not UTF-8 text (after line {reader.line_num})") from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
