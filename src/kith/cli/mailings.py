"""`kith mailings ...`: write, preview, check the recipients of, test, send (now or at a time)
and report on mailings."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select

from kith.cli.context import console, instant, marketing_db, print_json, user_errors
from kith.clock import utcnow
from kith.config import get_settings
from kith.encryption import SecretBox
from kith.marketing.mailings.archive import archive_mailing, delete_mailing, unarchive_mailing
from kith.marketing.mailings.definition import (
    MailingDraft,
    create_mailing,
    get_mailing,
    mailing_json,
)
from kith.marketing.mailings.jobs import start_send
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.messages import preview
from kith.marketing.mailings.recipients import count_recipients, iter_recipients
from kith.marketing.mailings.report import mailing_report
from kith.marketing.mailings.schedule import schedule_send, send_time, unschedule_send
from kith.marketing.mailings.sending import SendOptions
from kith.marketing.mailings.smtp import configure_smtp, mail_transport, smtp_view
from kith.marketing.mailings.testing import addresses_to_test, send_test
from kith.marketing.models import Mailing

app = typer.Typer(no_args_is_help=True, help="Mailings: personalized messages to target groups.")
smtp_app = typer.Typer(no_args_is_help=True, help="The mail server mailings go through.")
app.add_typer(smtp_app, name="smtp")

JSON = typer.Option(False, "--json", help="Machine-readable output.")
MAILING = typer.Argument(..., metavar="ID", help="The mailing's id.")
SHOWN = 50  # addresses printed by `recipients` without --json


@app.command("create")
def create(
    name: str = typer.Option(..., "--name"),
    subject: str = typer.Option(..., "--subject", help="A template: {{ first_name }} ..."),
    html: Path = typer.Option(..., "--html", exists=True, dir_okay=False, help="HTML template."),
    text: Path | None = typer.Option(
        None, "--text", exists=True, dir_okay=False, help="Text template (default: from HTML)."
    ),
    include: str = typer.Option(..., "--include", help="Groups, comma-separated."),
    exclude: str = typer.Option("", "--exclude", help="Groups to leave out, comma-separated."),
    from_address: str = typer.Option("newsletter@example.org", "--from"),
    from_name: str | None = typer.Option(None, "--from-name"),
    as_json: bool = JSON,
) -> None:
    """A draft mailing; its templates are checked now (line and column of any error)."""
    draft = MailingDraft(
        name=name,
        subject=subject,
        html=html.read_text(encoding="utf-8"),
        text=text.read_text(encoding="utf-8") if text else None,
        include=_names(include),
        exclude=_names(exclude),
        from_address=from_address,
        from_name=from_name,
    )
    with user_errors(), marketing_db().transaction() as session:
        view = mailing_json(session, create_mailing(session, draft, now=utcnow()))
    if as_json:
        print_json(view)
    else:
        console.print(f"Created mailing {view['id']}: {view['name']}", markup=False)


@app.command("list")
def list_(
    archived: bool = typer.Option(False, "--archived", help="Archived mailings too."),
    as_json: bool = JSON,
) -> None:
    """Every mailing (but the archived ones, unless asked), newest first."""
    query = select(Mailing).order_by(Mailing.id.desc())
    if not archived:
        query = query.where(Mailing.archived_at.is_(None))
    with marketing_db().session() as session:
        views = [mailing_json(session, mailing) for mailing in session.scalars(query)]
    if as_json:
        print_json(views)
        return
    table = Table("id", "name", "status", "include", "exclude")
    for view in views:
        groups = (", ".join(view["include"]), ", ".join(view["exclude"]))
        table.add_row(str(view["id"]), view["name"], view["status"], *groups)
    console.print(table)


@app.command("show")
def show(mailing_id: int = MAILING, as_json: bool = JSON) -> None:
    """One mailing: its groups, status and why."""
    with user_errors(), marketing_db().session() as session:
        view = mailing_json(session, get_mailing(session, mailing_id))
    if as_json:
        print_json(view)
        return
    for name, value in view.items():
        console.print(f"{name}: {value}", markup=False, highlight=False)


@app.command("delete")
def delete(mailing_id: int = MAILING) -> None:
    """Delete a mailing that was never sent (a sent one is archived instead)."""
    with user_errors(), marketing_db().transaction() as session:
        deleted = delete_mailing(session, mailing_id)
        console.print(f"Deleted mailing {mailing_id}: {deleted.name}", markup=False)


@app.command("archive")
def archive(mailing_id: int = MAILING) -> None:
    """Hide a sent mailing from the list; who it went to and its report are kept."""
    with user_errors(), marketing_db().transaction() as session:
        archived = archive_mailing(session, mailing_id, now=utcnow())
        console.print(f"Archived mailing {mailing_id}: {archived.name}", markup=False)


@app.command("unarchive")
def unarchive(mailing_id: int = MAILING) -> None:
    """List an archived mailing again."""
    with user_errors(), marketing_db().transaction() as session:
        shown = unarchive_mailing(session, mailing_id)
        console.print(f"Unarchived mailing {mailing_id}: {shown.name}", markup=False)


@app.command("preview")
def preview_(
    mailing_id: int = MAILING,
    to: str = typer.Option(..., "--to", metavar="EMAIL_OR_REMOTE_ID"),
    as_json: bool = JSON,
) -> None:
    """The subject and body one subscriber would receive."""
    settings = get_settings()
    links = LinkMaker.from_settings(settings)
    with user_errors(), marketing_db().session() as session:
        message = preview(session, mailing_id, to, links=links)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    view = {
        "to": message["To"],
        "subject": message["Subject"],
        "text": text.get_content() if text else "",
        "html": html.get_content() if html else "",
    }
    if as_json:
        print_json(view)
        return
    console.print(f"To: {view['to']}\nSubject: {view['subject']}\n", markup=False)
    console.print(view["text"], markup=False, highlight=False)


@app.command("recipients")
def recipients(mailing_id: int = MAILING, as_json: bool = JSON) -> None:
    """Who the mailing would go to now: the count and the addresses."""
    with user_errors(), marketing_db().session() as session:
        mailing = get_mailing(session, mailing_id)
        count = count_recipients(session, mailing)
        if as_json:
            addresses = [recipient.email for recipient in iter_recipients(session, mailing)]
            print_json({"count": count, "addresses": addresses})
            return
        console.print(f"{count} recipients", markup=False)
        for n, recipient in enumerate(iter_recipients(session, mailing)):
            if n == SHOWN:
                console.print(f"... and {count - SHOWN} more (--json gives them all)")
                break
            console.print(recipient.email, markup=False, highlight=False)


@app.command("send")
def send(
    mailing_id: int = MAILING,
    wait: bool = typer.Option(False, "--wait", help="Wait (run it here if no worker runs)."),
    allow_stale: bool = typer.Option(
        False, "--allow-stale", help="Send even if a community group could not be resynced."
    ),
    ack_duplicates: bool = typer.Option(
        False, "--ack-duplicates", help="Send although community automation rules overlap."
    ),
    leave_out_duplicates: bool = typer.Option(
        False,
        "--leave-out-duplicates",
        help="Send to everyone but the recipients community automation rules also e-mail.",
    ),
    as_json: bool = JSON,
) -> None:
    """Send (or resume sending): resync the community groups, check for duplicates, deliver."""
    settings = get_settings()
    db = marketing_db()
    options = SendOptions(
        allow_stale=allow_stale,
        ack_duplicates=ack_duplicates,
        leave_out_duplicates=leave_out_duplicates,
    )
    with user_errors():
        mailing = start_send(db, settings, mailing_id, options, wait=wait)
    with db.session() as session:
        report = mailing_report(session, mailing.id, now=utcnow())
    db.dispose()
    if as_json:
        print_json(report)
    elif mailing.status == "sending":
        console.print(f"Mailing {mailing.id} is queued for sending.", markup=False)
    elif mailing.status == "held":
        console.print(f"Mailing {mailing.id} is held: {mailing.status_reason}", markup=False)
    elif mailing.status == "draft":
        console.print(f"Mailing {mailing.id} was not sent: {mailing.status_reason}", markup=False)
    else:
        _print_report(report)
    if mailing.status in ("held", "failed", "draft"):
        raise typer.Exit(1)


@app.command("test")
def test(
    mailing_id: int = MAILING,
    to: str = typer.Option(..., "--to", help="Up to 10 addresses, comma-separated."),
    as_subscriber: str = typer.Option(
        "", "--as", metavar="EMAIL_OR_REMOTE_ID", help="Personalize (default: first recipient)."
    ),
    as_json: bool = JSON,
) -> None:
    """Send a test: the message, subject "[Test] ...", to a few addresses; not counted as a send."""
    settings = get_settings()
    with user_errors(), marketing_db().session() as session:
        sent = send_test(
            session,
            mailing_id,
            addresses_to_test(to),
            personalized_as=as_subscriber,
            links=LinkMaker.from_settings(settings),
            transport=mail_transport(session, settings, SecretBox.from_settings(settings)),
        )
    if as_json:
        print_json(asdict(sent))
    else:
        console.print(f"Personalized as {sent.personalized_as}", markup=False)
        for outcome in sent.sent:
            console.print(f"{outcome.address}: {outcome.status} {outcome.detail}", markup=False)
    if any(outcome.status != "sent" for outcome in sent.sent):
        raise typer.Exit(1)


@app.command("schedule")
def schedule(
    mailing_id: int = MAILING,
    at: str = typer.Option(..., "--at", help="When to send: 2026-12-24 09:00"),
    timezone: str = typer.Option("UTC", "--timezone", help="Of --at: Europe/Paris, UTC ..."),
    as_json: bool = JSON,
) -> None:
    """Send the mailing at a date and time (a worker or `kith tick` sends it then)."""
    with user_errors(), marketing_db().transaction() as session:
        mailing = schedule_send(session, mailing_id, send_time(at, timezone), now=utcnow())
        view = mailing_json(session, mailing)
    if as_json:
        print_json(view)
    else:
        console.print(f"Mailing {mailing_id} is scheduled for {view['scheduled_for']}.")


@app.command("unschedule")
def unschedule(mailing_id: int = MAILING) -> None:
    """A scheduled mailing back to a draft."""
    with user_errors(), marketing_db().transaction() as session:
        unschedule_send(session, mailing_id)
    console.print(f"Mailing {mailing_id} is a draft again.")


@app.command("report")
def report(
    mailing_id: int = MAILING,
    now: str | None = typer.Option(None, "--now", help="Community activity as of this moment."),
    as_json: bool = JSON,
) -> None:
    """Sent, failed, bounced, unique opens and clicks, unsubscribes; by community activity."""
    with user_errors(), marketing_db().session() as session:
        view = mailing_report(session, mailing_id, now=instant(now))
    if as_json:
        print_json(view)
    else:
        _print_report(view)


@smtp_app.command("configure")
def smtp_configure(
    url: str = typer.Option(..., "--url", help="smtp://user@host:587?tls=starttls&connections=4"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password."),
) -> None:
    """Deliver through this server (KITH_SMTP_URL, when set, still comes first)."""
    settings = get_settings()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with user_errors(), marketing_db().transaction() as session:
        configure_smtp(
            session, url=url, password=password, box=SecretBox.from_settings(settings), now=utcnow()
        )
        view = smtp_view(session, settings)
    console.print(f"Mailings go through {view['transport']}.", markup=False)


@smtp_app.command("show")
def smtp_show(as_json: bool = JSON) -> None:
    """Where mailings go now (never the password)."""
    settings = get_settings()
    with user_errors(), marketing_db().session() as session:
        view = smtp_view(session, settings)
    if as_json:
        print_json(view)
    else:
        console.print(f"{view['transport']} (from {view['source']})", markup=False)


def _print_report(view: dict[str, Any]) -> None:
    totals = view["totals"]
    console.print(
        f"Mailing {view['mailing']} ({view['name']}): {view['status']}"
        + (f" — {view['status_reason']}" if view["status_reason"] else ""),
        markup=False,
    )
    table = Table("", *totals)
    table.add_row("all", *(str(value) for value in totals.values()))
    for segment, counts in view["by_community_activity"].items():
        table.add_row(f"{segment} in community", *(str(value) for value in counts.values()))
    console.print(table)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]
