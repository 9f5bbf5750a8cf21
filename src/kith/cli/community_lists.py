"""`kith community lists ...`: List Builder's Custom User Lists."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.table import Table

from kith.cli.context import (
    community_db,
    console,
    instant,
    print_json,
    print_json_stream,
    read_json_file,
    user_errors,
)
from kith.clock import utcnow
from kith.community import lists
from kith.community.models import CustomUserList, Member

app = typer.Typer(no_args_is_help=True, help="List Builder: Custom User Lists.")

CRITERIA_FILE = typer.Option(..., "--criteria", help="A JSON file holding the criteria tree.")
BY = typer.Option(..., "--by", help="Email or contact key of the Super Admin acting.")
AS_OF = typer.Option(None, "--as-of", help="Evaluate as of this ISO datetime instead of now.")
JSON = typer.Option(False, "--json", help="Machine-readable output.")
SHOWN = 1000  # members printed as a table; --json streams them all


@app.command("create")
def create(
    name: str = typer.Option(..., "--name"),
    criteria: Path = CRITERIA_FILE,
    by: str = BY,
    as_json: bool = JSON,
) -> None:
    """Create a Custom User List (Super Admins only)."""
    with user_errors(), community_db().transaction() as session:
        created = lists.create_list(
            session, name=name, criteria=_read_criteria(criteria), by=by, now=utcnow()
        )
        count = lists.count_members(session, created.criteria, now=utcnow())
        _show(created, count, as_json, verb="Created")


@app.command("update")
def update(
    list_ref: str = typer.Argument(..., metavar="LIST", help="List key or exact name."),
    name: str | None = typer.Option(None, "--name", help="A new name."),
    criteria: Path | None = typer.Option(None, "--criteria", help="A JSON file of new criteria."),
    by: str = BY,
    as_json: bool = JSON,
) -> None:
    """Rename a list or replace its criteria (Super Admins only)."""
    new_criteria = _read_criteria(criteria) if criteria else None
    with user_errors(), community_db().transaction() as session:
        updated = lists.update_list(
            session, list_ref, by=by, now=utcnow(), name=name, criteria=new_criteria
        )
        count = lists.count_members(session, updated.criteria, now=utcnow())
        _show(updated, count, as_json, verb="Updated")


@app.command("delete")
def delete(
    list_ref: str = typer.Argument(..., metavar="LIST", help="List key or exact name."),
    by: str = BY,
    as_json: bool = JSON,
) -> None:
    """Delete a list (Super Admins only)."""
    with user_errors(), community_db().transaction() as session:
        deleted = lists.delete_list(session, list_ref, by=by)
    if as_json:
        print_json({"deleted": deleted.list_key, "name": deleted.name})
    else:
        console.print(f"Deleted {deleted.name!r} ({deleted.list_key})", highlight=False)


@app.command("show")
def show(
    list_ref: str = typer.Argument(..., metavar="LIST", help="List key or exact name."),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """A list's name, key, criteria and current member count."""
    now = _now(as_of)
    with user_errors(), community_db().session() as session:
        found = lists.get_list(session, list_ref)
        _show(found, lists.count_members(session, found.criteria, now=now), as_json)


@app.command("list")
def list_all(as_of: str | None = AS_OF, as_json: bool = JSON) -> None:
    """Every Custom User List with its member count."""
    with user_errors(), community_db().session() as session:
        summaries = lists.list_summaries(session, now=_now(as_of))
    if as_json:
        print_json([item.as_json() for item in summaries])
        return
    table = Table("Key", "Name", "Members", "Updated")
    for item in summaries:
        table.add_row(
            item.list_key, item.name, str(item.member_count), f"{item.updated_at:%Y-%m-%d %H:%M}"
        )
    console.print(table)


@app.command("preview")
def preview(
    criteria: Path = CRITERIA_FILE, as_of: str | None = AS_OF, as_json: bool = JSON
) -> None:
    """Count the members some criteria select and show the first 20; nothing is saved."""
    with user_errors(), community_db().session() as session:
        count, sample = lists.preview(session, _read_criteria(criteria), now=_now(as_of))
    if as_json:
        print_json({"count": count, "sample": [_member_json(member) for member in sample]})
        return
    console.print(f"{count} members match", highlight=False)
    _print_members(sample)


@app.command("members")
def members(
    list_ref: str = typer.Argument(..., metavar="LIST", help="List key or exact name."),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Every member of a list, evaluated now (or --as-of)."""
    now = _now(as_of)
    with user_errors(), community_db().session() as session:
        found = lists.get_list(session, list_ref)
        if as_json:  # streamed: a list may hold a million members
            print_json_stream(map(_member_json, lists.iter_members(session, found, now=now)))
            return
        count = lists.count_members(session, found.criteria, now=now)
        console.print(f"{found.name}: {count} members", highlight=False)
        _print_members(islice(lists.iter_members(session, found, now=now), SHOWN))
        if count > SHOWN:
            console.print(f"... and {count - SHOWN} more; --json gives them all", highlight=False)


def _read_criteria(path: Path) -> Any:
    return read_json_file(path, "criteria")


def _now(as_of: str | None) -> datetime:
    return instant(as_of, "--as-of")


def _member_json(member: Member) -> dict[str, str | None]:
    return {
        "contact_key": member.contact_key,
        "legacy_contact_key": member.legacy_contact_key,
        "email": member.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
    }


def _print_members(found: Iterable[Member]) -> None:
    table = Table("Contact key", "Legacy key", "Email", "Name")
    for member in found:
        name = " ".join(part for part in (member.first_name, member.last_name) if part)
        table.add_row(member.contact_key, member.legacy_contact_key or "", member.email or "", name)
    console.print(table)


def _show(found: CustomUserList, count: int, as_json: bool, verb: str | None = None) -> None:
    if as_json:
        print_json(
            {
                "key": found.list_key,
                "name": found.name,
                "criteria": found.criteria,
                "member_count": count,
                "created_by": found.created_by,
                "created_at": found.created_at.isoformat(),
                "updated_by": found.updated_by,
                "updated_at": found.updated_at.isoformat(),
            }
        )
        return
    heading = f"{verb} " if verb else ""
    console.print(f"{heading}{found.name!r} ({found.list_key}): {count} members", highlight=False)
    if not verb:
        console.print_json(orjson.dumps(found.criteria).decode())
