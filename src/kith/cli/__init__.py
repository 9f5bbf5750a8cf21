"""The `kith` command."""

from __future__ import annotations

import typer

from kith.cli import community, connection, demo, encryption, marketing, system

app = typer.Typer(
    no_args_is_help=True, help="Kith: an online community connected to email marketing."
)
system.register(app)
demo.register(app)
app.add_typer(community.app, name="community")
app.add_typer(marketing.app, name="marketing")
app.add_typer(connection.app, name="connection")
app.add_typer(encryption.app, name="secrets")


def main() -> None:
    app()
