"""The `kith` command."""

from __future__ import annotations

import typer

from kith.app import start
from kith.cli import (
    campaigns,
    community,
    connection,
    db,
    demo,
    encryption,
    mailings,
    marketing,
    outbox,
    reports,
    scoring,
    system,
    users,
)
from kith.config import get_settings

app = typer.Typer(
    no_args_is_help=True, help="Kith: an online community connected to email marketing."
)
system.register(app)
demo.register(app)
app.add_typer(community.app, name="community")
app.add_typer(marketing.app, name="marketing")
app.add_typer(connection.app, name="connection")
app.add_typer(db.app, name="db")
app.add_typer(encryption.app, name="secrets")
app.add_typer(outbox.app, name="outbox")
app.add_typer(mailings.app, name="mailings")
app.add_typer(scoring.app, name="scoring")
app.add_typer(reports.app, name="reports")
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(users.app, name="users")
app.command("tick")(campaigns.tick)


@app.callback()
def _start() -> None:
    """Every command may send: the marketing side reaches the connection through its ports."""
    start(get_settings())


def main() -> None:
    app()
