"""`kith bounces ...`: take in bounce messages (a listener, files), list and show them."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from kith.cli.context import (
    console,
    fail,
    instant,
    marketing_db,
    print_json,
    print_json_stream,
    user_errors,
)
from kith.clock import utcnow
from kith.config import get_settings
from kith.encryption import SecretBox
from kith.marketing.bounces.files import iter_message_files
from kith.marketing.bounces.intake import (
    BATCH,
    Arrival,
    BouncePolicy,
    Intake,
    retry,
    take_in_batch,
)
from kith.marketing.bounces.listing import (
    bounce_message_json,
    get_bounce_message,
    list_bounce_messages,
)
from kith.marketing.bounces.mailbox import configure_mailbox, fetch_bounces, mailbox_config
from kith.marketing.bounces.server import BounceHandler, BounceListener

app = typer.Typer(
    no_args_is_help=True,
    help="Bounces and complaints: messages to the bounce address (KITH_BOUNCE_ADDRESS).",
)
JSON = typer.Option(False, "--json", help="Machine-readable output.")
NOW = typer.Option(None, "--now", help="The time to record them at (ISO 8601); default: now.")


@app.command("process")
def process_(
    path: Path = typer.Argument(
        ..., metavar="FILE|DIR|MBOX", help="A message, a directory of them or an mbox."
    ),
    now: str | None = NOW,
    as_json: bool = JSON,
) -> None:
    """Take in bounce messages from files: each kept once, read, and applied."""
    policy = BouncePolicy.from_settings(get_settings())
    db = marketing_db()
    at = instant(now)
    taken: list[dict[str, Any]] = []

    def take(batch: list[tuple[str, bytes]]) -> None:
        arrivals = [Arrival(raw, "file") for _, raw in batch]
        for (where, _), intake in zip(
            batch, take_in_batch(db, policy, arrivals, now=at), strict=True
        ):
            taken.append(_intake_json(intake) | {"file": where})
            if not as_json:
                console.print(f"{where}: {_said(intake)}", highlight=False, markup=False)

    with user_errors():
        batch: list[tuple[str, bytes]] = []
        for where, raw in iter_message_files(path):
            batch.append((where, raw))
            if len(batch) == BATCH:
                take(batch)
                batch = []
        take(batch)
    if as_json:
        print_json(taken)
        return
    failed = sum(1 for each in taken if each["status"] == "failed")
    console.print(
        f"{len(taken)} message{'' if len(taken) == 1 else 's'} taken in, {failed} failed.",
        highlight=False,
    )
    if failed:
        raise typer.Exit(1)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(2525, "--port", help="The port (0: any free one)."),
    lmtp: bool = typer.Option(False, "--lmtp", help="Speak LMTP (RFC 2033) instead of SMTP."),
) -> None:
    """Listen for bounce messages over SMTP (or LMTP) until stopped (Ctrl-C, SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's every command
    handler = BounceHandler(
        marketing_db(), BouncePolicy.from_settings(get_settings()), utcnow, lmtp=lmtp
    )
    listener = BounceListener(handler, host=host, port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    listener.start()
    console.print(
        f"Listening for bounces over {'LMTP' if lmtp else 'SMTP'} on {host}:{listener.port}",
        highlight=False,
    )
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()


mailbox_app = typer.Typer(no_args_is_help=True, help="The mailbox the worker takes bounces from.")
app.add_typer(mailbox_app, name="mailbox")


@mailbox_app.command("configure")
def mailbox_configure(
    url: str = typer.Option(..., "--url", help="imaps://user@host/INBOX or pop3s://user@host"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password."),
) -> None:
    """Take bounces from this mailbox (KITH_BOUNCE_MAILBOX_URL, when set, still comes first);
    the password is stored encrypted."""
    if not password_stdin:
        fail("give the mailbox password on standard input, with --password-stdin")
    settings = get_settings()
    password = sys.stdin.readline().rstrip("\n")
    with user_errors(), marketing_db().transaction() as session:
        config = configure_mailbox(
            session, url=url, password=password, box=SecretBox.from_settings(settings), now=utcnow()
        )
    console.print(f"Bounces are taken from {config.describe()}.", markup=False, highlight=False)


@app.command("fetch")
def fetch() -> None:
    """Take in the bounce mailbox now, as the worker does on its own."""
    settings = get_settings()
    db = marketing_db()
    with user_errors():
        with db.session() as session:
            config = mailbox_config(session, settings, SecretBox.from_settings(settings))
        if config is None:
            fail(
                "no bounce mailbox: set KITH_BOUNCE_MAILBOX_URL or run "
                "`kith bounces mailbox configure --url imaps://user@host/INBOX --password-stdin`"
            )
        taken = fetch_bounces(db, BouncePolicy.from_settings(settings), config, clock=utcnow)
    for intake in taken:
        console.print(f"{_said(intake)}", highlight=False, markup=False)
    console.print(
        f"{len(taken)} message{'' if len(taken) == 1 else 's'} taken from {config.describe()}.",
        highlight=False,
        markup=False,
    )


@app.command("retry")
def retry_(now: str | None = NOW) -> None:
    """Process again the messages whose processing failed (they were kept)."""
    policy = BouncePolicy.from_settings(get_settings())
    with user_errors():
        done = retry(marketing_db(), policy, now=instant(now))
    for intake in done:
        console.print(
            f"bounce message {intake.message_id}: {_said(intake)}", highlight=False, markup=False
        )
    console.print(
        f"{len(done)} message{'' if len(done) == 1 else 's'} processed again.", highlight=False
    )


@app.command("list")
def list_(
    kind: str | None = typer.Option(
        None, "--kind", help="hard|soft|complaint|auto_reply|unrecognised"
    ),
    status: str | None = typer.Option(None, "--status", help="received|processed|failed"),
    as_json: bool = JSON,
) -> None:
    """The messages taken in, newest first."""
    with user_errors(), marketing_db().session() as session:
        found = list_bounce_messages(session, kind=kind, status=status)
        if as_json:
            print_json_stream(bounce_message_json(session, each, raw=False) for each in found)
            return
        table = Table("#", "received", "source", "status", "kind", "subject", "problem")
        for each in found:
            table.add_row(
                str(each.id),
                each.received_at.isoformat(sep=" ", timespec="seconds"),
                each.source,
                each.status,
                each.kind or "",
                each.subject or "",
                each.error or each.problem or "",
            )
    console.print(table)


@app.command("show")
def show(
    number: int = typer.Argument(..., help="The message's number (kith bounces list)."),
    raw: bool = typer.Option(False, "--raw", help="Print the message as received, only."),
    as_json: bool = JSON,
) -> None:
    """One message taken in: how it was read, what it reported about whom."""
    with user_errors(), marketing_db().session() as session:
        message = get_bounce_message(session, number)
        if raw:
            typer.echo(message.raw.decode("utf-8", "replace"), nl=False)
            return
        view = bounce_message_json(session, message, raw=False)
    if as_json:
        print_json(view)
        return
    for name, value in view.items():
        if name != "bounces":
            console.print(f"{name}: {value}", highlight=False, markup=False)
    for bounce in view["bounces"]:
        console.print(
            f"- {bounce['email']}: {bounce['kind']} {bounce['status_code'] or ''} "
            f"(mailing {bounce['mailing']}) {bounce['diagnostic'] or ''}",
            highlight=False,
            markup=False,
        )


def _said(intake: Intake) -> str:
    if intake.duplicate:
        return f"bounce message {intake.message_id}, taken in before: nothing changed"
    if intake.error:
        return (
            f"bounce message {intake.message_id} failed ({intake.error}); kept: "
            "`kith bounces retry` processes it again"
        )
    changes = "; ".join(f"{c.email} is now {c.status} ({c.reason})" for c in intake.changes)
    problem = f" [{intake.problem}]" if intake.problem else ""
    return f"bounce message {intake.message_id}: {intake.kind}{problem}" + (
        f"; {changes}" if changes else ""
    )


def _intake_json(intake: Intake) -> dict[str, Any]:
    return {
        "message": intake.message_id,
        "duplicate": intake.duplicate,
        "status": intake.status,
        "kind": intake.kind,
        "changes": [
            {"email": c.email, "status": c.status, "reason": c.reason} for c in intake.changes
        ],
        "problem": intake.problem,
        "error": intake.error,
    }
