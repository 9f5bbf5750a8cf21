"""`kith marketing groups refresh|sync|history|rejections|diagnose`: the connection's commands."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.table import Table

from kith.cli.context import console, marketing_db, print_json, user_errors
from kith.cli.marketing_groups import GROUP, JSON
from kith.clock import utcnow
from kith.config import get_settings
from kith.connection.client import client_for
from kith.connection.diagnose import diagnose
from kith.connection.refresh import refresh_groups
from kith.connection.runs import SyncRuns
from kith.csvexport import csv_chunks
from kith.encryption import SecretBox
from kith.errors import InvalidInput
from kith.marketing.groups.sync_history import (
    REJECTION_COLUMNS,
    last_completed_run,
    rejected_members,
    run_json,
    sync_runs,
)
from kith.marketing.groups.target_groups import get_group
from kith.marketing.models import SKIP_REASONS


def register(groups: typer.Typer) -> None:
    """Add the connection's commands to `kith marketing groups`."""
    groups.command("refresh")(refresh)
    groups.command("sync")(sync)
    groups.command("history")(history)
    groups.command("rejections")(rejections)
    groups.command("diagnose")(diagnose_)


def refresh(as_json: bool = JSON) -> None:
    """Refresh Target Group List: a community group for every list named "Informz ..."."""
    settings = get_settings()
    box = SecretBox.from_settings(settings)
    with (
        user_errors(),
        marketing_db().transaction() as session,
        client_for(session, box) as client,
    ):
        report = refresh_groups(session, client, now=utcnow())
    if as_json:
        print_json(report.as_json())
        return
    say = console.print
    for item in report.added:
        say(f"added     {item['group']}  (from the list {item['list']!r})", markup=False)
    for item in report.renamed:
        say(f"renamed   {item['from']} -> {item['to']}", markup=False)
    for item in report.restored:
        say(f"restored  {item['group']}", markup=False)
    for item in report.removed:
        say(f"removed   {item['group']}: {item['reason']} (kept, no longer synced)", markup=False)
    for item in report.collisions:
        say(
            f"named     {item['group']}: the name {item['wanted']!r} is taken by another group",
            markup=False,
        )
    say(f"{report.unchanged} groups unchanged", markup=False)
    for item in report.not_taken:
        flag = "near-miss " if item["near_miss"] else "not taken "
        say(f"{flag}{item['list']!r}: {item['reason']}", markup=False)


def sync(
    name: str = GROUP,
    wait: bool = typer.Option(
        False, "--wait", help="Wait for the result (run it here when no worker is running)."
    ),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="Empty the group even if the list came back empty."
    ),
    as_json: bool = JSON,
) -> None:
    """Sync Target Group Now: reconcile the group with its community list, as a background job."""
    db = marketing_db()
    runs = SyncRuns(db, get_settings())
    with user_errors():
        with db.session() as session:
            group_id = get_group(session, name).id
        if wait:
            requested, run = runs.queue_and_wait(
                group_id, trigger="manual", now=utcnow(), allow_empty=allow_empty
            )
        else:
            requested = runs.queue(
                group_id, trigger="manual", now=utcnow(), allow_empty=allow_empty
            )
            run = requested.run
    view = run_json(run, requested.group_name)
    if as_json:
        print_json(view)
    elif run.status == "in progress":
        state = "already running" if requested.existing else "queued"
        console.print(f"Sync of {view['group']} {state} (run {run.id}).", markup=False)
        if runs.nobody_else_will_run():
            console.print(
                "No worker is running: start `kith worker` or `kith serve`, or use --wait.",
                markup=False,
            )
    else:
        _print_run(view)
    db.dispose()
    if run.status in ("failed", "held"):
        raise typer.Exit(1)


def history(
    name: str = GROUP,
    limit: int = typer.Option(20, "--limit", help="How many runs, newest first."),
    as_json: bool = JSON,
) -> None:
    """The group's sync runs, newest first: trigger, status, counts, error."""
    with user_errors(), marketing_db().session() as session:
        group = get_group(session, name)
        runs = sync_runs(session, group, limit=limit)
        views = [run_json(run, group.name) for run in runs]
    if as_json:
        print_json(views)
        return
    table = Table("run", "requested", "trigger", "status", "in list", "members", "+", "-", "error")
    for view in views:
        table.add_row(
            str(view["run"]),
            view["requested_at"][:16],
            view["trigger"],
            view["status"] + (f", drift {view['drift']}" if view["drift"] else ""),
            *(_count(view[key]) for key in ("in_list", "members", "added", "removed")),
            view["error"] or "",
        )
    console.print(table)


def rejections(
    name: str = GROUP,
    reason: str | None = typer.Option(None, "--reason", help=" | ".join(SKIP_REASONS)),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on standard output."),
    as_json: bool = JSON,
) -> None:
    """The members the group's last completed sync left out, with the reason."""
    if reason is not None and reason not in SKIP_REASONS:
        raise typer.BadParameter(f"one of {', '.join(SKIP_REASONS)}", param_hint="--reason")
    with user_errors(), marketing_db().session() as session:
        group = get_group(session, name)
        run = last_completed_run(session, group)
        if run is None:
            raise InvalidInput(f"{group.name!r} has no completed sync yet")
        rows = rejected_members(session, run, reason=reason)
        if as_csv:
            for chunk in csv_chunks(REJECTION_COLUMNS, (row.values() for row in rows)):
                sys.stdout.write(chunk)
            return
        found = list(rows)
    if as_json:
        print_json(found)
    else:
        for row in found:
            console.print(
                f"{row['reason']:<24} {row['contact_key']}  {row['legacy_contact_key'] or '-'}"
                f"  {row['email'] or '-'}",
                markup=False,
            )


def diagnose_(
    reference: str = typer.Argument(..., metavar="NAME_OR_LIST", help="A group, or a list."),
    as_json: bool = JSON,
) -> None:
    """Why a list has no group, or why a group's count differs from its list's."""
    settings = get_settings()
    with user_errors(), marketing_db().session() as session:
        found = diagnose(session, SecretBox.from_settings(settings), reference)
    if as_json:
        print_json(found.as_json())
        return
    for finding in found.findings:
        console.print(f"- {finding}", markup=False)


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _print_run(view: dict[str, Any]) -> None:
    say = console.print
    if view["status"] != "completed":
        say(f"Sync of {view['group']} {view['status']}: {view['error']}", markup=False)
        return
    say(
        f"Synced {view['group']}: {view['in_list']} in the list, {view['members']} members "
        f"(+{view['added']} -{view['removed']}, {view['unchanged']} unchanged)",
        markup=False,
    )
    if view["drift"]:
        say(f"  drift {view['drift']}: the live membership differed, now repaired", markup=False)
    if view["created"] or view["linked"]:
        say(f"  subscribers created {view['created']}, linked {view['linked']}", markup=False)
    for reason, count in view["skipped"].items():
        if count:
            say(f"  skipped {count:>6}  {reason}", markup=False)
