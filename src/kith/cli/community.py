"""`kith community ...`: the community side's commands."""

from __future__ import annotations

import typer

from kith.cli import (
    community_credentials,
    community_imports,
    community_lists,
    community_members,
    community_rules,
)

app = typer.Typer(no_args_is_help=True, help="The online community: members, activity, lists, API.")
community_members.register(community_imports.register(app)["members"])
app.add_typer(community_lists.app, name="lists")
app.add_typer(community_credentials.app, name="credentials")
app.add_typer(community_rules.app, name="rules")
