"""`kith marketing ...`: the marketing side's commands."""

from __future__ import annotations

import typer

from kith.cli import marketing_groups, marketing_subscribers, marketing_sync, marketing_tokens

app = typer.Typer(no_args_is_help=True, help="Email marketing: subscribers, folders, groups.")
app.add_typer(marketing_subscribers.app, name="subscribers")
app.add_typer(marketing_groups.folders_app, name="folders")
marketing_sync.register(marketing_groups.app)
app.add_typer(marketing_groups.app, name="groups")
app.add_typer(marketing_tokens.app, name="tokens")
