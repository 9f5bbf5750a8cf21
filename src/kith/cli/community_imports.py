"""`kith community members|memberships|activity import` and `activity-types`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from kith.cli.context import community_db, console, print_json, user_errors
from kith.cli.imports import FILE_HELP, JSON_HELP, STRICT_HELP, run_import
from kith.community.activity_types import add_activity_type, list_activity_types
from kith.community.ingest import import_activity, import_members, import_memberships
from kith.community.models import ActivityType


def register(app: typer.Typer) -> dict[str, typer.Typer]:
    """Add the import command groups to `kith community`; the groups by name."""
    groups = {}
    for name, help_text, command in (
        ("members", "Community members.", members_import),
        ("memberships", "Who belongs to which community.", memberships_import),
        ("activity", "What members do in the community.", activity_import),
    ):
        group = typer.Typer(no_args_is_help=True, help=help_text)
        group.command("import")(command)
        app.add_typer(group, name=name)
        groups[name] = group
    types = typer.Typer(no_args_is_help=True, help="The types of activity events.")
    types.command("add")(activity_types_add)
    types.command("list")(activity_types_list)
    app.add_typer(types, name="activity-types")
    return groups


def members_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=FILE_HELP),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create or update members (by contact_key); columns beyond the standard ones become
    custom fields. Columns: contact_key, legacy_contact_key, email, first_name, last_name,
    company, title, member_type, joined_at, last_login_at, is_super_admin."""
    run_import(community_db, import_members, file, strict=strict, as_json=as_json)


def memberships_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=FILE_HELP),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create or update memberships; a community is created when first named.
    Columns: contact_key, community, role, joined_at."""
    run_import(community_db, import_memberships, file, strict=strict, as_json=as_json)


def activity_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=FILE_HELP),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Add activity events; an event_id already stored is skipped as a duplicate.
    Columns: event_id, contact_key, type, occurred_at, community (event_id, community optional)."""
    run_import(community_db, import_activity, file, strict=strict, as_json=as_json)


def activity_types_add(
    name: str = typer.Argument(..., help="Lowercase letters, digits and underscores."),
    as_json: bool = typer.Option(False, "--json", help="Print the new type as JSON."),
) -> None:
    """Register a new activity type, so that events of that type can be imported."""
    db = community_db()
    try:
        with user_errors(), db.transaction() as session:
            view = _type_view(add_activity_type(session, name))
    finally:
        db.dispose()
    if as_json:
        print_json(view)
    else:
        console.print(f"Added the activity type {view['name']}.", highlight=False, markup=False)


def activity_types_list(
    as_json: bool = typer.Option(False, "--json", help="Print the types as a JSON array."),
) -> None:
    """List the activity types, built-in ones first."""
    db = community_db()
    try:
        with db.session() as session:
            views = [_type_view(activity_type) for activity_type in list_activity_types(session)]
    finally:
        db.dispose()
    if as_json:
        print_json(views)
        return
    for view in views:
        typer.echo(f"{view['name']}{'' if view['builtin'] else '  (added)'}")


def _type_view(activity_type: ActivityType) -> dict[str, Any]:
    return {"id": activity_type.id, "name": activity_type.name, "builtin": activity_type.builtin}
