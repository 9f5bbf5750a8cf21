"""What `kith community lists` and `kith community rules` share: their options, the criteria
file, one list or rule by key or name, its members and its deletion."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

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
from kith.community import saved_criteria
from kith.community.saved_criteria import MatchedMember, Saved, SavedKind

CRITERIA_FILE = typer.Option(..., "--criteria", help="A JSON file holding the criteria tree.")
NEW_CRITERIA_FILE = typer.Option(None, "--criteria", help="A JSON file of new criteria.")
NEW_NAME = typer.Option(None, "--name", help="A new name.")
BY = typer.Option(..., "--by", help="Email or contact key of the Super Admin acting.")
AS_OF = typer.Option(None, "--as-of", help="Evaluate as of this ISO datetime instead of now.")
JSON = typer.Option(False, "--json", help="Machine-readable output.")
SHOWN = 1000  # members printed as a table; --json streams them all


def key_or_name(metavar: str, what: str) -> Any:
    """The argument naming one list or rule, by its key or its exact name."""
    return typer.Argument(..., metavar=metavar, help=f"{what} key or exact name.")


def read_criteria(path: Path) -> Any:
    return read_json_file(path, "criteria")


def as_of_instant(as_of: str | None) -> datetime:
    """The instant --as-of names, or now."""
    return instant(as_of, "--as-of")


def print_members(kind: SavedKind[Saved], ref: str, *, now: datetime, as_json: bool) -> None:
    """Every member the list or rule `ref` selects at `now`: all as JSON, streamed (it may
    select a million members), or a table of the first SHOWN."""
    with user_errors(), community_db().session() as session:
        found = saved_criteria.find(session, kind, ref)
        matched = saved_criteria.iter_matched_members(session, found.criteria, now=now)
        if as_json:
            print_json_stream(member.as_json() for member in matched)
            return
        count = saved_criteria.count_members(session, found.criteria, now=now)
        console.print(f"{found.name}: {count} members", highlight=False)
        print_member_table(islice(matched, SHOWN))
        if count > SHOWN:
            console.print(f"... and {count - SHOWN} more; --json gives them all", highlight=False)


def print_member_table(found: Iterable[MatchedMember]) -> None:
    table = Table("Contact key", "Legacy key", "Email", "Name")
    for member in found:
        name = " ".join(part for part in (member.first_name, member.last_name) if part)
        table.add_row(member.contact_key, member.legacy_contact_key or "", member.email or "", name)
    console.print(table)


def members_cell(count: int | None, error: str | None) -> str:
    """A list's or rule's member count in a table; print_count_errors says why one is missing."""
    return "cannot count" if error is not None else str(count)


def print_count_errors(counted: Iterable[tuple[str, str, str | None]]) -> None:
    """Under a table of lists or rules (name, key, error), why each one not counted was not."""
    for name, key, error in counted:
        if error is not None:
            console.print(f"{name!r} ({key}) cannot be counted: {error}", highlight=False)


def delete(kind: SavedKind[Saved], ref: str, *, by: str, as_json: bool) -> None:
    """Delete the list or rule `ref` as the Super Admin `by`, and say which it was."""
    with user_errors(), community_db().transaction() as session:
        deleted = saved_criteria.delete(session, kind, ref, by=by)
    key = kind.key_of(deleted)
    if as_json:
        print_json({"deleted": key, "name": deleted.name})
    else:
        console.print(f"Deleted {deleted.name!r} ({key})", highlight=False)
