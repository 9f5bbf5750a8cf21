"""The `kith` command."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from kith.app import start
from kith.cli import (
    bounces,
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
from kith.cli.context import no_tracebacks
from kith.config import get_settings


class KithCommands(TyperGroup):
    """The `kith` command group: the one place where every command's failures are caught."""

    def invoke(self, ctx: Any) -> Any:  # a typer.Context, of the click Typer keeps private
        with no_tracebacks(lambda: _debugging(ctx)):
            return super().invoke(ctx)


app = typer.Typer(
    cls=KithCommands,
    no_args_is_help=True,
    help="Kith: an online community connected to email marketing.",
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
app.add_typer(bounces.app, name="bounces")
app.add_typer(scoring.app, name="scoring")
app.add_typer(reports.app, name="reports")
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(users.app, name="users")
app.command("tick")(campaigns.tick)


@app.callback()
def _start(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of an unexpected failure (or KITH_DEBUG=1)."
    ),
) -> None:
    """Every command may send: the marketing side reaches the connection through its ports."""
    start(get_settings())


def _debugging(ctx: typer.Context) -> bool:
    """Whether a failure should show its traceback: --debug, or the setting KITH_DEBUG."""
    if ctx.params.get("debug"):
        return True
    try:
        return get_settings().debug
    except Exception:  # settings that do not load are the failure being reported
        return False


def main() -> None:
    app()
