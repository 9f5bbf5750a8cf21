"""`kith users create|set-password|list`: the logins of the web admin on either side."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table

from kith.cli.context import community_db, console, marketing_db, print_json, user_errors
from kith.clock import utcnow
from kith.community import accounts as community_accounts
from kith.db import Database
from kith.marketing import accounts as marketing_accounts
from kith.web.accounts import (
    AccountColumns,
    generate_password,
    get_account,
    list_accounts,
    set_password,
)

app = typer.Typer(no_args_is_help=True, help="Logins to the web admin (/marketing, /community).")


class Side(StrEnum):
    marketing = "marketing"
    community = "community"


# Per side: its database, its accounts table, and how a login is created there.
SIDES: dict[Side, tuple[Callable[[], Database], type[AccountColumns], Callable[..., Any]]] = {
    Side.marketing: (marketing_db, marketing_accounts.Account, marketing_accounts.create_login),
    Side.community: (community_db, community_accounts.Account, community_accounts.create_login),
}
ROLES = {
    Side.marketing: marketing_accounts.ROLES,
    Side.community: community_accounts.ROLES,
}


@app.command("create")
def create(
    side: Side = typer.Option(..., "--side", help="Which pages the login opens."),
    email: str = typer.Option(..., "--email", help="A community login needs a member with it."),
    role: str = typer.Option(
        ..., "--role", help="marketing: admin; community: member or super_admin."
    ),
    generate: bool = typer.Option(
        False, "--generate", help="Generate the password and print it once, instead of asking."
    ),
) -> None:
    """A login; its password is asked for (twice), or generated and printed once."""
    if role not in ROLES[side]:
        raise typer.BadParameter(
            f"one of {', '.join(ROLES[side])} on {side.value}", param_hint="--role"
        )
    password = _new_password(generate)
    database, _, create_login = SIDES[side]
    db = database()
    with user_errors(), db.transaction() as session:
        account = create_login(session, email=email, role=role, password=password, now=utcnow())
        address = account.email
    db.dispose()
    console.print(f"Created the {side.value} login {address} ({role}).", highlight=False)
    if generate:
        _print_generated(password)


def _new_password(generate: bool) -> str:
    if generate:
        return generate_password()
    password: str = typer.prompt(
        "Password (12 characters or more)", hide_input=True, confirmation_prompt=True
    )
    return password


def _print_generated(password: str) -> None:
    console.print(f"Password: {password}", highlight=False, markup=False)
    console.print("Store it now: only its Argon2 hash is kept.", highlight=False)


@app.command("set-password")
def set_password_(
    side: Side = typer.Option(..., "--side", help="The login's side."),
    email: str = typer.Option(..., "--email", help="The login's email (any case)."),
    generate: bool = typer.Option(
        False, "--generate", help="Generate the password and print it once, instead of asking."
    ),
) -> None:
    """A new password for a login: its sessions end and a lock after wrong passwords lifts."""
    password = _new_password(generate)
    database, model, _ = SIDES[side]
    db = database()
    with user_errors(), db.transaction() as session:
        account = get_account(session, model, email)
        set_password(session, account, password)
        address = account.email
    db.dispose()
    console.print(
        f"Set a new password for the {side.value} login {address}; its sessions have ended.",
        highlight=False,
    )
    if generate:
        _print_generated(password)


@app.command("list")
def list_(
    side: Side | None = typer.Option(None, "--side", help="One side only."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every login: side, email, role, when created and last signed in (never a password)."""
    views = []
    for each in [side] if side else list(Side):
        database, model, _ = SIDES[each]
        db = database()
        with db.session() as session:
            views += [_login_json(each, account) for account in list_accounts(session, model)]
        db.dispose()
    if as_json:
        print_json(views)
        return
    table = Table("side", "email", "role", "created", "signed in")
    for view in views:
        table.add_row(
            view["side"],
            view["email"],
            view["role"],
            view["created_at"][:16],
            (view["signed_in_at"] or "")[:16],
        )
    console.print(table)


def _login_json(side: Side, account: AccountColumns) -> dict[str, Any]:
    return {
        "side": side.value,
        "email": account.email,
        "role": account.role,
        "created_at": _iso(account.created_at),
        "signed_in_at": _iso(account.signed_in_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
