"""`kith community members|memberships|activity import` and `activity-types`."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

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

from kith.cli.context import community_db, console, fail, print_json, user_errors
from kith.clock import utcnow
from kith.community.activity_types import add_activity_type, list_activity_types
from kith.community.ingest import (
    ImportRejected,
    ImportReport,
    import_activity,
    import_members,
    import_memberships,
)
from kith.community.models import ActivityType
from kith.errors import InvalidInput


class Importer(Protocol):
    def __call__(
        self, session: Session, rows: Iterable[list[str]], *, now: datetime, strict: bool
    ) -> ImportReport: ...


FILE_HELP = "CSV file (UTF-8) whose header names the columns."
STRICT_HELP = "Import nothing, and exit 1, if any row is rejected."
JSON_HELP = "Print a JSON summary."


def register(app: typer.Typer) -> None:
    """Add the import command groups to `kith community`."""
    for name, help_text, command in (
        ("members", "Community members.", members_import),
        ("memberships", "Who belongs to which community.", memberships_import),
        ("activity", "What members do in the community.", activity_import),
    ):
        group = typer.Typer(no_args_is_help=True, help=help_text)
        group.command("import")(command)
        app.add_typer(group, name=name)
    types = typer.Typer(no_args_is_help=True, help="The types of activity events.")
    types.command("add")(activity_types_add)
    types.command("list")(activity_types_list)
    app.add_typer(types, name="activity-types")


def members_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=FILE_HELP),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create or update members (by contact_key); columns beyond the standard ones become
    custom fields. Columns: contact_key, legacy_contact_key, email, first_name, last_name,
    company, title, member_type, joined_at, last_login_at, is_super_admin."""
    _run_import(import_members, file, strict=strict, as_json=as_json)


def memberships_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=FILE_HELP),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create or update memberships; a community is created when first named.
    Columns: contact_key, community, role, joined_at."""
    _run_import(import_memberships, file, strict=strict, as_json=as_json)


def activity_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=FILE_HELP),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Add activity events; an event_id already stored is skipped as a duplicate.
    Columns: event_id, contact_key, type, occurred_at, community (event_id, community optional)."""
    _run_import(import_activity, file, strict=strict, as_json=as_json)


def activity_types_add(
    name: str = typer.Argument(..., help="Lowercase letters, digits and underscores."),
    as_json: bool = typer.Option(False, "--json", help="Print the new type as JSON."),
) -> None:
    """Register a new activity type, so that events of that type can be imported."""
    db = community_db()
    try:
        with user_errors(), db.transaction() as session:
            view = _type_view(add_activity_type(session, name))
    finally:
        db.dispose()
    if as_json:
        print_json(view)
    else:
        console.print(f"Added the activity type {view['name']}.", highlight=False, markup=False)


def activity_types_list(
    as_json: bool = typer.Option(False, "--json", help="Print the types as a JSON array."),
) -> None:
    """List the activity types, built-in ones first."""
    db = community_db()
    try:
        with db.session() as session:
            views = [_type_view(activity_type) for activity_type in list_activity_types(session)]
    finally:
        db.dispose()
    if as_json:
        print_json(views)
        return
    for view in views:
        typer.echo(f"{view['name']}{'' if view['builtin'] else '  (added)'}")


def _type_view(activity_type: ActivityType) -> dict[str, Any]:
    return {"id": activity_type.id, "name": activity_type.name, "builtin": activity_type.builtin}


def _run_import(importer: Importer, file: Path, *, strict: bool, as_json: bool) -> None:
    db = community_db()
    try:
        with user_errors():
            try:
                with _csv_rows(file) as rows, db.bulk_transaction() as session:
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
    summary = f"{report.imported} imported, {report.updated} updated"
    if report.duplicates:
        summary += f", {report.duplicates} duplicates skipped"
    typer.echo(f"{summary}, {len(report.rejected)} rejected")
    for row in report.rejected:
        typer.echo(f"line {row['line']}: {row['reason']}")


@contextmanager
def _csv_rows(path: Path) -> Iterator[Iterator[list[str]]]:
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
