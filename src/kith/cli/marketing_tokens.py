"""`kith marketing tokens ...`: the admin tokens the marketing REST API authenticates with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.table import Table

from kith.cli.context import console, marketing_db, print_json, user_errors
from kith.clock import utcnow
from kith.marketing.models import ApiToken
from kith.marketing.tokens import create_token, list_tokens, revoke_token

app = typer.Typer(no_args_is_help=True, help="Admin API tokens (Authorization: Bearer ...).")

JSON = typer.Option(False, "--json", help="Print JSON.")


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="What will use the token, e.g. 'CRM sync'."),
    as_json: bool = JSON,
) -> None:
    """Issue a token; it is shown this once and never again."""
    db = marketing_db()
    with user_errors(), db.transaction() as session:
        issued = create_token(session, name=name, now=utcnow())
    db.dispose()
    if as_json:
        print_json({**_token_json(issued.api_token), "token": issued.token})
        return
    console.print(f"Created the API token {issued.api_token.name!r}:", highlight=False)
    console.print(issued.token, highlight=False, markup=False)
    console.print(
        "Store it now: it is kept only as a digest and will not be shown again. "
        "Send it as 'Authorization: Bearer <token>' to /marketing/api.",
        highlight=False,
    )


@app.command("list")
def list_(as_json: bool = JSON) -> None:
    """Every token by prefix, revoked ones included (the tokens themselves are never shown)."""
    db = marketing_db()
    with db.session() as session:
        tokens = list_tokens(session)
    db.dispose()
    if as_json:
        print_json([_token_json(token) for token in tokens])
        return
    if not tokens:
        console.print("No API tokens yet: kith marketing tokens create --name ...")
        return
    table = Table("prefix", "name", "created", "last used", "revoked")
    for token in tokens:
        table.add_row(
            token.prefix,
            token.name,
            _shown(token.created_at),
            _shown(token.last_used_at),
            _shown(token.revoked_at),
        )
    console.print(table)


@app.command("revoke")
def revoke(
    reference: str = typer.Argument(
        ..., metavar="PREFIX", help="The token's prefix, as `tokens list` shows it, or its name."
    ),
    as_json: bool = JSON,
) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    db = marketing_db()
    with user_errors(), db.transaction() as session:
        token = revoke_token(session, reference, now=utcnow())
    db.dispose()
    if as_json:
        print_json(_token_json(token))
        return
    console.print(f"Revoked {token.prefix}... ({token.name}).", highlight=False, markup=False)


def _token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "prefix": token.prefix,
        "name": token.name,
        "created_at": _iso(token.created_at),
        "last_used_at": _iso(token.last_used_at),
        "revoked_at": _iso(token.revoked_at),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _shown(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")
