"""`kith community credentials ...`: the IAM keys the connection authenticates with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.table import Table

from kith.cli.context import community_db, console, print_json, user_errors
from kith.clock import utcnow
from kith.community.credentials import create_credential, list_credentials, revoke_credential
from kith.community.models import ApiCredential

app = typer.Typer(no_args_is_help=True, help="API credentials (HLIAMKey / HLPassword).")


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="What the credential is for, e.g. 'Marketing'."),
    by: str = typer.Option(..., "--by", help="Email or contact key of a Super Admin."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Issue an IAM key and password; the password is shown this once and never again."""
    db = community_db()
    with user_errors(), db.transaction() as session:
        issued = create_credential(session, name=name, by=by, now=utcnow())
    db.dispose()
    credential = issued.credential
    if as_json:
        print_json({**_credential_json(credential), "password": issued.password})
        return
    console.print(f"Created API credential {credential.name!r}.", highlight=False)
    console.print(f"HLIAMKey:   {credential.iam_key}", highlight=False)
    console.print(f"HLPassword: {issued.password}", highlight=False)
    console.print("Store the password now: it is kept only as a hash and will not be shown again.")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every credential, revoked ones included (passwords are never shown)."""
    db = community_db()
    with db.session() as session:
        credentials = list_credentials(session)
    db.dispose()
    if as_json:
        print_json([_credential_json(credential) for credential in credentials])
        return
    if not credentials:
        console.print(
            "No API credentials yet: kith community credentials create --name ... --by ..."
        )
        return
    table = Table("IAM key", "name", "created by", "created", "last used", "revoked")
    for credential in credentials:
        table.add_row(
            credential.iam_key,
            credential.name,
            credential.created_by,
            _shown(credential.created_at),
            _shown(credential.last_used_at),
            _shown(credential.revoked_at),
        )
    console.print(table)


@app.command("revoke")
def revoke(
    iam_key: str = typer.Argument(..., help="The IAM key to revoke."),
    by: str = typer.Option(..., "--by", help="Email or contact key of a Super Admin."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Revoke a credential: requests with it get 401 from now on."""
    db = community_db()
    with user_errors(), db.transaction() as session:
        credential = revoke_credential(session, iam_key, by=by, now=utcnow())
    db.dispose()
    if as_json:
        print_json(_credential_json(credential))
        return
    console.print(f"Revoked {credential.iam_key} ({credential.name}).", highlight=False)


def _credential_json(credential: ApiCredential) -> dict[str, Any]:
    return {
        "iam_key": credential.iam_key,
        "name": credential.name,
        "created_by": credential.created_by,
        "created_at": _iso(credential.created_at),
        "last_used_at": _iso(credential.last_used_at),
        "revoked_at": _iso(credential.revoked_at),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _shown(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")
