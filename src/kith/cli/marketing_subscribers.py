"""`kith marketing subscribers ...`: import, show, change the status of and list subscribers;
export or erase one person's data."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.table import Table

from kith.cli.context import (
    console,
    err_console,
    marketing_db,
    print_json,
    print_json_stream,
    user_errors,
)
from kith.cli.imports import FILE_HELP, JSON_HELP, STRICT_HELP, run_import
from kith.clock import utcnow
from kith.config import get_settings
from kith.encryption import SecretBox
from kith.erasures import LINGERING, erasure_json, forget_deleted_rows
from kith.marketing.mailings.outbox import outbox_folder
from kith.marketing.models import SUBSCRIBER_STATUSES
from kith.marketing.personal_data import erase_subscriber, export_subscriber, lift_erasure
from kith.marketing.subscriber_import import import_subscribers
from kith.marketing.subscribers import (
    find_subscriber,
    history_line,
    iter_subscribers,
    set_status,
    status_history,
    subscriber_json,
)

app = typer.Typer(no_args_is_help=True, help="Subscribers: the people mailings go to.")

REFERENCE = typer.Argument(..., metavar="EMAIL_OR_REMOTE_ID", help="A Remote ID or an email.")
JSON = typer.Option(False, "--json", help="Machine-readable output.")
STATUSES = "|".join(SUBSCRIBER_STATUSES)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=FILE_HELP),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create or update subscribers: by remote_id when given, else by email. Columns: email,
    remote_id, first_name, last_name, status (empty keeps it); others are personalization
    fields. An import never resubscribes an unsubscribed or bounced subscriber."""
    run_import(marketing_db, import_subscribers, file, strict=strict, as_json=as_json)


@app.command("show")
def show(reference: str = REFERENCE, as_json: bool = JSON) -> None:
    """One subscriber, found by Remote ID or else by email, with the history of their status."""
    with user_errors(), marketing_db().session() as session:
        subscriber = find_subscriber(session, reference)
        view = subscriber_json(subscriber) | {"history": status_history(session, subscriber)}
    if as_json:
        print_json(view)
        return
    for name, value in view.items():
        if name != "history":
            console.print(f"{name}: {value}", highlight=False, markup=False)
    for change in view["history"]:
        console.print(f"- {history_line(change)}", highlight=False, markup=False)


@app.command("set-status")
def set_status_(
    reference: str = REFERENCE,
    status: str = typer.Option(..., "--status", help=STATUSES),
    as_json: bool = JSON,
) -> None:
    """Subscribe, unsubscribe or mark as bounced (the only way back to subscribed)."""
    with user_errors(), marketing_db().transaction() as session:
        view = subscriber_json(set_status(session, reference, status, now=utcnow()))
    if as_json:
        print_json(view)
    else:
        console.print(f"{view['email']}: {view['status']}", highlight=False, markup=False)


@app.command("list")
def list_(
    status: str | None = typer.Option(None, "--status", help=f"Only these: {STATUSES}."),
    as_json: bool = JSON,
) -> None:
    """Every subscriber, oldest first (--json streams them all)."""
    with user_errors(), marketing_db().session() as session:
        found = iter_subscribers(session, status=status)
        if as_json:
            print_json_stream(map(subscriber_json, found))
            return
        table = Table("email", "remote_id", "first_name", "last_name", "status")
        for subscriber in found:
            table.add_row(
                subscriber.email,
                subscriber.remote_id or "",
                subscriber.first_name or "",
                subscriber.last_name or "",
                subscriber.status,
            )
        console.print(table)


@app.command("export-data")
def export_data(reference: str = REFERENCE) -> None:
    """Every record marketing keeps of the subscriber, as one JSON document (messages stored
    in the outbox folder included)."""
    settings = get_settings()
    with user_errors(), marketing_db().session() as session:
        document = export_subscriber(session, reference, outbox=outbox_folder(settings.data_dir))
    print_json(document)


@app.command("erase")
def erase(
    reference: str = REFERENCE,
    by: str = typer.Option(
        None, "--by", help="Who asks, for the record (default: the system user)."
    ),
    as_json: bool = JSON,
) -> None:
    """Erase the subscriber for good: reports keep anonymous counts, stored messages go, and
    the platform edition's sync does not create them again (see lift-erasure)."""
    settings, db = get_settings(), marketing_db()
    with user_errors(), db.transaction() as session:
        erasure = erase_subscriber(
            session,
            reference,
            by=by or _system_user(),
            box=SecretBox.from_settings(settings),
            now=utcnow(),
            outbox=outbox_folder(settings.data_dir),
        )
    if not forget_deleted_rows(db):
        err_console.print(LINGERING, highlight=False, markup=False)
    view = erasure_json(erasure)
    if as_json:
        print_json(view)
        return
    removed = ", ".join(f"{table} {count}" for table, count in view["counts"].items() if count)
    console.print(f"Erased the subscriber ({removed}).", highlight=False, markup=False)


@app.command("lift-erasure")
def lift_erasure_(reference: str = REFERENCE) -> None:
    """Let the platform edition's sync create an erased person again (they asked to return)."""
    settings = get_settings()
    with user_errors(), marketing_db().transaction() as session:
        lift_erasure(session, reference, box=SecretBox.from_settings(settings))
    console.print(f"{reference.strip()} may be created again by a sync.", markup=False)


def _system_user() -> str:
    """Who runs the command, as the system knows them (for the erase's record)."""
    try:
        return f"{getpass.getuser()} (command line)"
    except (OSError, KeyError):  # no login name in the environment nor the password database
        return "command line"
