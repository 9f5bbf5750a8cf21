"""`kith marketing folders|groups ...`: folders and target groups, compound ones included."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from kith.cli.context import console, marketing_db, print_json, print_json_stream, user_errors
from kith.cli.imports import FILE_HELP, JSON_HELP, STRICT_HELP, run_import
from kith.clock import utcnow
from kith.csvimport.report import ImportReport
from kith.marketing.groups import deletion
from kith.marketing.groups import target_groups as groups
from kith.marketing.groups.folders import create_folder, list_folders
from kith.marketing.groups.live import LiveState, live_state, switch_live
from kith.marketing.groups.members import change_members
from kith.marketing.models import TargetGroup
from kith.marketing.subscribers import subscriber_json

folders_app = typer.Typer(no_args_is_help=True, help="Folders that file target groups.")
app = typer.Typer(no_args_is_help=True, help="Target groups: static, community and compound.")
compound_app = typer.Typer(
    no_args_is_help=True, help="Compound groups: Include and Exclude sections over other groups."
)
app.add_typer(compound_app, name="compound")

JSON = typer.Option(False, "--json", help="Machine-readable output.")
GROUP = typer.Argument(..., metavar="NAME", help="The group's name (any case).")
FOLDER = typer.Option(None, "--folder", help="The folder (default: Main).")
MEMBERS_FILE = typer.Argument(
    ..., exists=True, dir_okay=False, help=f"{FILE_HELP} Columns: email and/or remote_id."
)
INCLUDE = typer.Option(..., "--include", help="Groups to include, comma-separated.")
INCLUDE_MODE = typer.Option(..., "--include-mode", help="all (In all) | any (In one or more).")
EXCLUDE = typer.Option("", "--exclude", help="Groups to exclude, comma-separated.")
EXCLUDE_MODE = typer.Option("any", "--exclude-mode", help="all | any (default any).")


@folders_app.command("list")
def folders_list(as_json: bool = JSON) -> None:
    """Every folder with the number of groups in it."""
    with marketing_db().session() as session:
        views = [folder.as_json() for folder in list_folders(session)]
    if as_json:
        print_json(views)
        return
    for view in views:
        typer.echo(f"{view['name']}  ({view['group_count']} groups)")


@folders_app.command("create")
def folders_create(name: str = typer.Argument(..., help="The new folder's name.")) -> None:
    """A new folder for target groups."""
    with user_errors(), marketing_db().transaction() as session:
        folder = create_folder(session, name, now=utcnow())
        typer.echo(f"Created the folder {folder.name}.")


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="The new group's name."),
    folder: str | None = FOLDER,
    as_json: bool = JSON,
) -> None:
    """A new, empty static group."""
    with user_errors(), marketing_db().transaction() as session:
        group = groups.create_group(session, name, folder=folder, now=utcnow())
        _show(session, group, as_json, "Created")


@app.command("add-members")
def add_members(
    name: str = GROUP,
    file: Path = MEMBERS_FILE,
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Add the subscribers a CSV names (by remote_id, else email) to a static group."""
    _change_members(name, file, remove=False, strict=strict, as_json=as_json)


@app.command("remove-members")
def remove_members(
    name: str = GROUP,
    file: Path = MEMBERS_FILE,
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Remove the subscribers a CSV names (by remote_id, else email) from a static group."""
    _change_members(name, file, remove=True, strict=strict, as_json=as_json)


def _change_members(name: str, file: Path, *, remove: bool, strict: bool, as_json: bool) -> None:
    def importer(
        session: Session, rows: Iterable[list[str]], *, now: datetime, strict: bool
    ) -> ImportReport:
        group = groups.get_group(session, name)
        return change_members(session, group, rows, now=now, remove=remove, strict=strict)

    run_import(marketing_db, importer, file, strict=strict, as_json=as_json)


@compound_app.command("create")
def compound_create(
    name: str = typer.Option(..., "--name", help="The new group's name."),
    include: str = INCLUDE,
    include_mode: str = INCLUDE_MODE,
    exclude: str = EXCLUDE,
    exclude_mode: str = EXCLUDE_MODE,
    folder: str | None = FOLDER,
    as_json: bool = JSON,
) -> None:
    """A compound group: members of the included groups minus those of the excluded ones."""
    with user_errors(), marketing_db().transaction() as session:
        group = groups.create_compound_group(
            session,
            name,
            include=_names(include),
            include_mode=include_mode,
            exclude=_names(exclude),
            exclude_mode=exclude_mode,
            folder=folder,
            now=utcnow(),
        )
        _show(session, group, as_json, "Created")


@compound_app.command("update")
def compound_update(
    name: str = typer.Option(..., "--name", help="The compound group to change."),
    include: str = INCLUDE,
    include_mode: str = INCLUDE_MODE,
    exclude: str = EXCLUDE,
    exclude_mode: str = EXCLUDE_MODE,
    as_json: bool = JSON,
) -> None:
    """Replace a compound group's sections (a definition that contains itself is refused)."""
    with user_errors(), marketing_db().transaction() as session:
        group = groups.change_compound_group(
            session,
            name,
            include=_names(include),
            include_mode=include_mode,
            exclude=_names(exclude),
            exclude_mode=exclude_mode,
        )
        _show(session, group, as_json, "Changed")


@app.command("list")
def list_(
    folder: str | None = typer.Option(None, "--folder", help="Only this folder."),
    as_json: bool = JSON,
) -> None:
    """Every group (or one folder's) with its kind, member count and sync state."""
    with user_errors(), marketing_db().session() as session:
        views = [summary.as_json() for summary in groups.list_groups(session, folder=folder)]
    if as_json:
        print_json(views)
        return
    table = Table("name", "folder", "kind", "members", "last synced", "sync status")
    for view in views:
        table.add_row(
            view["name"],
            view["folder"],
            f"{view['kind']}, {'live' if view['live'] else 'manual'}"
            if view["kind"] == "community"
            else view["kind"],
            str(view["member_count"]),
            view["last_synced_at"] or "never",
            view["sync_status"] or "",
        )
    console.print(table)


@app.command("show")
def show(name: str = GROUP, as_json: bool = JSON) -> None:
    """One group: folder, kind, member count, sections of a compound, sync state."""
    with user_errors(), marketing_db().session() as session:
        _show(session, groups.get_group(session, name), as_json)


@app.command("live")
def live(
    name: str = GROUP,
    switch: bool | None = typer.Option(
        None, "--on/--off", help="Live (follows its list's changes) or manual; neither: show it."
    ),
    as_json: bool = JSON,
) -> None:
    """Whether a community group is live or manual, and the last change the live pass applied."""
    db = marketing_db()
    with user_errors():
        with db.transaction() as session:
            group = groups.get_group(session, name)
            if switch is not None:
                switch_live(session, group, switch)
        state = live_state(db, group, now=utcnow())
    if as_json:
        print_json({"group": group.name, **state.as_json()})
    else:
        console.print(f"{group.name}: {_live_words(state)}", highlight=False, markup=False)


def _live_words(state: LiveState) -> str:
    words = state.word
    if state.paused:
        words += f" (paused: {state.paused})"
    change = state.last_change
    if change is not None and change.finished_at is not None:
        words += (
            f"; last change applied {change.finished_at.isoformat(timespec='seconds')}"
            f" (+{change.added} -{change.removed})"
        )
    elif state.live:
        words += "; no change applied yet"
    return words


@app.command("members")
def members(name: str = GROUP, as_json: bool = JSON) -> None:
    """The group's subscribers (a compound is evaluated now); --json streams them all."""
    with user_errors(), marketing_db().session() as session:
        found = groups.iter_members(session, groups.get_group(session, name))
        if as_json:
            print_json_stream(
                {"email": s.email, "remote_id": s.remote_id, "status": s.status} for s in found
            )
            return
        table = Table("email", "remote_id", "status")
        for subscriber in found:
            view = subscriber_json(subscriber)
            table.add_row(view["email"], view["remote_id"] or "", view["status"])
        console.print(table)


@app.command("delete")
def delete(name: str = GROUP) -> None:
    """Delete a group (refused while a compound group, a mailing or a campaign uses it)."""
    with user_errors(), marketing_db().transaction() as session:
        group = deletion.delete_group(session, name)
        typer.echo(f"Deleted the group {group.name}.")


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _show(session: Session, group: TargetGroup, as_json: bool, verb: str = "") -> None:
    view = groups.summarize(session, group).as_json()
    if as_json:
        print_json(view)
        return
    prefix = f"{verb} the" if verb else "The"
    switch = {True: ", live", False: ", manual", None: ""}[view.get("live")]
    console.print(
        f"{prefix} {view['kind']} group {view['name']} in {view['folder']}: "
        f"{view['member_count']} members{switch}",
        highlight=False,
        markup=False,
    )
    for section in ("include", "exclude"):
        if section in view:
            mode = "In all" if view[section]["mode"] == "all" else "In one or more"
            console.print(
                f"  {section} ({mode}): {', '.join(view[section]['groups'])}",
                highlight=False,
                markup=False,
            )
