"""`kith community members ...`: a member's personal data, exported or deleted at their request."""

from __future__ import annotations

import typer

from kith.cli.community_criteria import BY, JSON
from kith.cli.context import community_db, console, err_console, print_json, user_errors
from kith.clock import utcnow
from kith.community.personal_data import delete_member, export_member
from kith.erasures import LINGERING, erasure_json, forget_deleted_rows

CONTACT_KEY = typer.Argument(..., metavar="CONTACT_KEY", help="The member's contact key.")


def register(members: typer.Typer) -> None:
    """Add these commands to `kith community members` (which imports members too)."""
    members.command("export-data")(export_data)
    members.command("delete")(delete)


def export_data(contact_key: str = CONTACT_KEY) -> None:
    """Every record the community keeps of the member, as one JSON document."""
    with user_errors(), community_db().session() as session:
        document = export_member(session, contact_key)
    print_json(document)


def delete(contact_key: str = CONTACT_KEY, by: str = BY, as_json: bool = JSON) -> None:
    """Delete the member for good, with their memberships, activity and list history (Super
    Admins only); the groups the connection fills lose them at their next sync."""
    db = community_db()
    with user_errors(), db.transaction() as session:
        erasure = delete_member(session, contact_key, by=by, now=utcnow())
    if not forget_deleted_rows(db):
        err_console.print(LINGERING, highlight=False, markup=False)
    view = erasure_json(erasure)
    if as_json:
        print_json(view)
        return
    removed = ", ".join(f"{table} {count}" for table, count in view["counts"].items() if count)
    console.print(f"Deleted the member ({removed}).", highlight=False, markup=False)
