"""`kith community lists ...`: List Builder's Custom User Lists."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from rich.table import Table

from kith.cli import community_criteria as shared
from kith.cli.context import community_db, console, print_json, user_errors
from kith.clock import utcnow
from kith.community import lists, saved_criteria
from kith.community.models import CustomUserList

app = typer.Typer(no_args_is_help=True, help="List Builder: Custom User Lists.")

LIST = shared.key_or_name("LIST", "List")


@app.command("create")
def create(
    name: str = typer.Option(..., "--name"),
    criteria: Path = shared.CRITERIA_FILE,
    by: str = shared.BY,
    as_json: bool = shared.JSON,
) -> None:
    """Create a Custom User List (Super Admins only)."""
    with user_errors(), community_db().transaction() as session:
        created = lists.create_list(
            session, name=name, criteria=shared.read_criteria(criteria), by=by, now=utcnow()
        )
        count = saved_criteria.count_members(session, created.criteria, now=utcnow())
        _show(created, count, as_json, verb="Created")


@app.command("update")
def update(
    list_ref: str = LIST,
    name: str | None = shared.NEW_NAME,
    criteria: Path | None = shared.NEW_CRITERIA_FILE,
    by: str = shared.BY,
    as_json: bool = shared.JSON,
) -> None:
    """Rename a list or replace its criteria (Super Admins only)."""
    new_criteria = shared.read_criteria(criteria) if criteria else None
    with user_errors(), community_db().transaction() as session:
        updated = lists.update_list(
            session, list_ref, by=by, now=utcnow(), name=name, criteria=new_criteria
        )
        count = saved_criteria.count_members(session, updated.criteria, now=utcnow())
        _show(updated, count, as_json, verb="Updated")


@app.command("delete")
def delete(list_ref: str = LIST, by: str = shared.BY, as_json: bool = shared.JSON) -> None:
    """Delete a list (Super Admins only)."""
    shared.delete(lists.LISTS, list_ref, by=by, as_json=as_json)


@app.command("show")
def show(
    list_ref: str = LIST, as_of: str | None = shared.AS_OF, as_json: bool = shared.JSON
) -> None:
    """A list's name, key, criteria and current member count."""
    now = shared.as_of_instant(as_of)
    with user_errors(), community_db().session() as session:
        found = lists.get_list(session, list_ref)
        _show(found, saved_criteria.count_members(session, found.criteria, now=now), as_json)


@app.command("list")
def list_all(as_of: str | None = shared.AS_OF, as_json: bool = shared.JSON) -> None:
    """Every Custom User List with its member count."""
    with user_errors(), community_db().session() as session:
        summaries = lists.list_summaries(session, now=shared.as_of_instant(as_of))
    if as_json:
        print_json([item.as_json() for item in summaries])
        return
    table = Table("Key", "Name", "Members", "Updated")
    for item in summaries:
        table.add_row(
            item.list_key,
            item.name,
            shared.members_cell(item.member_count, item.error),
            f"{item.updated_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)
    shared.print_count_errors((item.name, item.list_key, item.error) for item in summaries)


@app.command("preview")
def preview(
    criteria: Path = shared.CRITERIA_FILE,
    as_of: str | None = shared.AS_OF,
    as_json: bool = shared.JSON,
) -> None:
    """Count the members some criteria select and show the first 20; nothing is saved."""
    with user_errors(), community_db().session() as session:
        count, sample = saved_criteria.preview(
            session, shared.read_criteria(criteria), now=shared.as_of_instant(as_of)
        )
    if as_json:
        print_json({"count": count, "sample": [member.as_json() for member in sample]})
        return
    console.print(f"{count} members match", highlight=False)
    shared.print_member_table(sample)


@app.command("members")
def members(
    list_ref: str = LIST, as_of: str | None = shared.AS_OF, as_json: bool = shared.JSON
) -> None:
    """Every member of a list, evaluated now (or --as-of)."""
    shared.print_members(lists.LISTS, list_ref, now=shared.as_of_instant(as_of), as_json=as_json)


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
