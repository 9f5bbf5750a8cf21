"""`kith outbox list`: the messages mailings delivered to the outbox folder (no SMTP server set)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from kith.cli.context import console, print_json_stream
from kith.config import get_settings
from kith.marketing.mailings.outbox import OutboxEntry, list_outbox, outbox_folder

app = typer.Typer(
    no_args_is_help=True,
    help="The outbox: where mailings go as .eml files when KITH_SMTP_URL is not set.",
)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the outbox's messages, oldest first: file, recipient, subject, date and size."""
    settings = get_settings()
    folder = outbox_folder(settings.data_dir)
    entries = list_outbox(folder)
    if as_json:
        print_json_stream(_entry_json(entry) for entry in entries)
        return
    if settings.smtp_url:
        console.print(
            "KITH_SMTP_URL is set: mailings go to that server, not to this outbox.",
            highlight=False,
        )
    if not entries:
        console.print(f"The outbox {folder} is empty.", highlight=False)
        return
    table = Table("file", "to", "subject", "date", "size")
    for entry in entries:
        date = entry.date.isoformat(sep=" ") if entry.date else ""
        table.add_row(entry.file.name, entry.to, entry.subject, date, str(entry.size))
    console.print(table)
    console.print(
        f"{len(entries)} message{'' if len(entries) == 1 else 's'} in {folder}.", highlight=False
    )


def _entry_json(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "file": str(entry.file),
        "key": entry.key,
        "to": entry.to,
        "subject": entry.subject,
        "date": entry.date.isoformat() if entry.date else None,
        "size": entry.size,
    }
