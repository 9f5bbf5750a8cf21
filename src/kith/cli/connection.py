"""`kith connection ...`: the Integration Settings and a test call to the community API."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from kith.cli.context import console, fail, instant, marketing_db, print_json, user_errors
from kith.clock import utcnow
from kith.config import get_settings
from kith.connection.activity import run_pull
from kith.connection.client import ConnectionFailed, check_connection
from kith.encryption import SecretBox
from kith.marketing.integration import (
    IntegrationView,
    configure_integration,
    get_integration,
)
from kith.marketing.models import EDITIONS

app = typer.Typer(
    no_args_is_help=True, help="The connection to the community API (Integration Settings)."
)


@app.command("configure")
def configure(
    url: str | None = typer.Option(
        None, "--url", help="The community API's base URL (the one /api/v1 is under)."
    ),
    iam_key: str | None = typer.Option(None, "--iam-key", help="The HLIAMKey to send."),
    password: str | None = typer.Option(
        None,
        "--password",
        help="The HLPassword to send. Other users can see command lines: prefer "
        "--password-stdin, or leave both out to be asked.",
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="Whether the connection syncs (off when first set)."
    ),
    edition: str | None = typer.Option(
        None, "--edition", help=f"One of: {', '.join(EDITIONS)} (first default: {EDITIONS[0]})."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Set the Integration Settings; only the options given change (the password is encrypted)."""
    if password is not None and password_stdin:
        fail("give the password with --password or --password-stdin, not both")
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    db = marketing_db()
    with user_errors():
        box = SecretBox.from_settings(get_settings())
        if password is None:
            with db.session() as session:
                first_time = get_integration(session) is None
            if first_time:
                password = typer.prompt("Password (HLPassword)", hide_input=True)
        with db.transaction() as session:
            view = IntegrationView.of(
                configure_integration(
                    session,
                    box=box,
                    now=utcnow(),
                    url=url,
                    iam_key=iam_key,
                    password=password,
                    active=active,
                    edition=edition,
                )
            )
    db.dispose()
    if as_json:
        print_json(view.as_json())
        return
    console.print("Saved the Integration Settings.", highlight=False)
    _print_view(view)
    if not view.active:
        console.print("The connection is inactive: nothing syncs until it is --active.")


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The Integration Settings (the password is never shown, only whether one is set)."""
    db = marketing_db()
    with db.session() as session:
        view = IntegrationView.of(get_integration(session))
    db.dispose()
    if as_json:
        print_json(view.as_json())
        return
    if not view.configured:
        console.print(
            "Not configured: kith connection configure --url URL --iam-key KEY --password-stdin"
        )
        return
    _print_view(view)


@app.command("test")
def test(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Call the community API with the stored settings; on failure, say why exactly and exit 1."""
    db = marketing_db()
    try:
        with user_errors():
            box = SecretBox.from_settings(get_settings())
            with db.session() as session:
                try:
                    result = check_connection(session, box)
                except ConnectionFailed as failure:
                    _report_failure(failure, as_json)
    finally:
        db.dispose()
    if as_json:
        print_json(result.as_json())
        return
    console.print(
        f"Connected to {result.base_url}: the credentials see {result.list_count} "
        f"list{'' if result.list_count == 1 else 's'}.",
        highlight=False,
    )


@app.command("pull-activity")
def pull_activity(
    now: str | None = typer.Option(None, "--now", help="Pull as of this ISO datetime."),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Replace the days from this one on (YYYY-MM-DD; default: since "
        "a few days before the last pull, or 400 days back on the first).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Pull Community Activity: daily activity counts for scoring and reports, then rescore."""
    at, db = instant(now), marketing_db()
    try:
        with user_errors():
            first = instant(since, "--since").date() if since else None
            pulled = run_pull(db, get_settings(), now=at, since=first)
    finally:
        db.dispose()
    if as_json:
        print_json(pulled.as_json())
        return
    console.print(
        f"Pulled {pulled.day_rows} daily activity counts ({pulled.since} to {pulled.through}) "
        f"and {pulled.members} members.",
        highlight=False,
    )
    if pulled.scores is not None:
        grades = ", ".join(f"{g or 'none'}: {n}" for g, n in pulled.scores.grades.items())
        console.print(f"Rescored {pulled.scores.scored} subscribers ({grades}).", highlight=False)


def _report_failure(failure: ConnectionFailed, as_json: bool) -> NoReturn:
    """The reason and exact detail, as JSON on stdout or as an error on stderr; exit 1."""
    if as_json:
        print_json(failure.as_json())
        raise typer.Exit(failure.exit_code)
    fail(f"{failure.reason}: {failure}", failure.exit_code)


def _print_view(view: IntegrationView) -> None:
    rows = {
        "Active": "yes" if view.active else "no",
        "URL": view.base_url,
        "IAM key": view.iam_key,
        "Password": "set (encrypted)" if view.password_set else "not set",
        "Edition": view.edition,
        "Updated": None if view.updated_at is None else f"{view.updated_at:%Y-%m-%d %H:%M} UTC",
    }
    for label, value in rows.items():
        console.print(f"{label + ':':<10} {value}", highlight=False)
