"""`kith campaigns ...`: define, activate, watch campaigns; `kith tick` runs what is due."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select

from kith.cli.context import (
    console,
    fail,
    instant,
    marketing_db,
    print_json,
    read_json_file,
    user_errors,
)
from kith.config import get_settings
from kith.marketing.campaigns import archive, definition
from kith.marketing.campaigns.enrollments import enrollment_views
from kith.marketing.campaigns.models import Campaign
from kith.marketing.campaigns.templates import TEMPLATES, create_from_template
from kith.marketing.scheduler import TickReport, run_tick

app = typer.Typer(no_args_is_help=True, help="Campaigns: community groups activate them.")

JSON = typer.Option(False, "--json", help="Machine-readable output.")
NOW = typer.Option(None, "--now", help="Act as of this ISO datetime instead of now.")
CAMPAIGN = typer.Argument(..., metavar="ID", help="The campaign's id or name.")
FILE = typer.Option(None, "--file", exists=True, dir_okay=False, help="The campaign as JSON.")


@app.command("create")
def create(
    file: Path | None = FILE,
    template: str | None = typer.Option(
        None, "--template", help=f"A ready-made campaign: {', '.join(TEMPLATES)}."
    ),
    now: str | None = NOW,
    as_json: bool = JSON,
) -> None:
    """A new, inactive campaign from a file, or from a template (which also creates the
    community lists and the mailings it needs)."""
    if (file is None) == (template is None):
        fail("give --file or --template (one of them)", 2)
    moment = instant(now)
    db = marketing_db()
    with user_errors():
        if template is not None:
            campaign_id = create_from_template(db, template, now=moment)
        else:
            assert file is not None
            written = read_json_file(file, "campaign")
            with db.transaction() as session:
                campaign_id = definition.create_campaign(session, written, now=moment).id
    _show(campaign_id, moment, as_json, verb="Created")


@app.command("update")
def update(
    campaign: str = CAMPAIGN,
    file: Path = typer.Option(..., "--file", exists=True, dir_okay=False),
    now: str | None = NOW,
    as_json: bool = JSON,
) -> None:
    """Change a campaign, active or not: steps nobody reached change in place; a change to a
    reached step makes a new version for new enrollments."""
    moment = instant(now)
    with user_errors(), marketing_db().transaction() as session:
        written = read_json_file(file, "campaign")
        changed, new_version = definition.change_campaign(session, campaign, written, now=moment)
        campaign_id = changed.id
    verb = "Updated (a new version for new enrollments)" if new_version else "Updated in place"
    _show(campaign_id, moment, as_json, verb=verb)


@app.command("activate")
def activate(campaign: str = CAMPAIGN, now: str | None = NOW) -> None:
    """Start the campaign: the next tick enrolls its activation group and runs its steps."""
    with user_errors(), marketing_db().transaction() as session:
        activated = definition.activate(session, campaign, now=instant(now))
        console.print(f"Campaign {activated.name!r} is active.", highlight=False)


@app.command("deactivate")
def deactivate(campaign: str = CAMPAIGN, now: str | None = NOW) -> None:
    """Pause the campaign: nobody enters and no step runs until it is activated again."""
    with user_errors(), marketing_db().transaction() as session:
        paused = definition.deactivate(session, campaign, now=instant(now))
        console.print(f"Campaign {paused.name!r} is {paused.status}.", highlight=False)


@app.command("delete")
def delete(campaign: str = CAMPAIGN) -> None:
    """Delete a campaign that never ran (one that ran is archived instead)."""
    with user_errors(), marketing_db().transaction() as session:
        deleted = archive.delete_campaign(session, campaign)
        say(f"Deleted campaign {deleted.name!r}.")


@app.command("archive")
def archive_(campaign: str = CAMPAIGN, now: str | None = NOW) -> None:
    """Stop the campaign if it runs and hide it from the list; its enrollments are kept."""
    with user_errors(), marketing_db().transaction() as session:
        archived = archive.archive_campaign(session, campaign, now=instant(now))
        say(f"Campaign {archived.name!r} is archived ({archived.status}).")


@app.command("unarchive")
def unarchive(campaign: str = CAMPAIGN, now: str | None = NOW) -> None:
    """List an archived campaign again; it stays stopped until activated."""
    with user_errors(), marketing_db().transaction() as session:
        shown = archive.unarchive_campaign(session, campaign, now=instant(now))
        say(f"Campaign {shown.name!r} is unarchived ({shown.status}).")


@app.command("show")
def show(campaign: str = CAMPAIGN, now: str | None = NOW, as_json: bool = JSON) -> None:
    """The campaign and, per step, who is waiting there and what it did (counts per branch)."""
    with user_errors(), marketing_db().session() as session:
        campaign_id = definition.get_campaign(session, campaign).id
    _show(campaign_id, instant(now), as_json)


@app.command("definition")
def definition_(campaign: str = CAMPAIGN) -> None:
    """The campaign as written (JSON, its current steps): what `update --file` takes back."""
    with user_errors(), marketing_db().session() as session:
        written = definition.campaign_definition(
            session, definition.get_campaign(session, campaign)
        )
    print_json(written)


@app.command("list")
def list_(
    now: str | None = NOW,
    archived: bool = typer.Option(False, "--archived", help="Archived campaigns too."),
    as_json: bool = JSON,
) -> None:
    """Every campaign (but the archived ones, unless asked)."""
    moment = instant(now)
    query = select(Campaign).order_by(Campaign.id)
    if not archived:
        query = query.where(Campaign.archived_at.is_(None))
    with marketing_db().session() as session:
        views = [
            definition.campaign_json(session, campaign, now=moment)
            for campaign in session.scalars(query)
        ]
    if as_json:
        print_json(views)
        return
    table = Table("id", "name", "status", "activation", "version", "in progress", "completed")
    for view in views:
        activation = f"{view['activation']['group']} ({view['activation']['mode']})"
        table.add_row(
            str(view["id"]),
            view["name"],
            view["status"],
            activation,
            str(view["version"]),
            str(view["in_progress"]),
            str(view["completed"]),
        )
    console.print(table)


@app.command("enrollments")
def enrollments(campaign: str = CAMPAIGN, as_json: bool = JSON) -> None:
    """Who went into the campaign, when, and where each is now."""
    with user_errors(), marketing_db().session() as session:
        found = definition.get_campaign(session, campaign)
        views = enrollment_views(session, found)
    if as_json:
        print_json(views)
        return
    table = Table("email", "version", "status", "step", "due", "enrolled")
    for view in views:
        table.add_row(
            view["email"] or "(deleted)",
            str(view["version"]),
            view["status"],
            view["step"] or "",
            view["due_at"] or "",
            view["enrolled_at"],
        )
    console.print(table)


def tick(now: str | None = NOW, as_json: bool = JSON) -> None:
    """Run everything due once: hourly syncs of campaign groups, enrollments, campaign steps.

    Safe to run again for the same moment: nothing is done twice.
    """
    with user_errors():
        report = run_tick(marketing_db(), get_settings(), now=instant(now))
    if as_json:
        print_json(tick_json(report))
        return
    _print_tick(report)


def tick_json(report: TickReport) -> dict[str, Any]:
    return {
        "now": report.now.isoformat(),
        "ran": report.ran,
        "syncs": [{"group": s.group, "status": s.status, "error": s.error} for s in report.syncs],
        "campaigns": {
            name: {"enrolled": progress.enrolled, "steps": progress.steps}
            for name, progress in report.campaigns.items()
        },
        "notifications": report.notifications,
        "finished": report.finished,
        "scheduled_sends": report.scheduled,
        "resumed_sends": report.resumed,
        "activity_pull": report.pulled,
        "rescored": report.rescored,
    }


def _print_tick(report: TickReport) -> None:
    if not report.ran:
        say(f"Tick {report.now:%Y-%m-%d %H:%M}: another tick is running; nothing done.")
        return
    say(f"Tick {report.now:%Y-%m-%d %H:%M}:")
    for sync in report.syncs:
        say(
            f"  hourly sync of {sync.group!r}: {sync.status}"
            + (f" ({sync.error})" if sync.error else "")
        )
    for name, progress in report.campaigns.items():
        moved = ", ".join(
            f"{step}: " + " ".join(f"{n} {outcome}" for outcome, n in outcomes.items())
            for step, outcomes in progress.steps.items()
        )
        say(f"  {name}: {progress.enrolled} enrolled" + (f"; {moved}" if moved else ""))
    if report.notifications:
        say(f"  {report.notifications} admin notification(s) sent")
    for name in report.finished:
        say(f"  {name} finished")
    for mailing_id in report.scheduled:
        say(f"  sent mailing {mailing_id} as scheduled")
    for mailing_id in report.resumed:
        say(f"  resumed the lost send of mailing {mailing_id}")
    if report.pulled:
        say(f"  daily pull of community activity: {report.pulled}")
    if report.rescored:
        say("  scores recomputed")
    if not (
        report.syncs or report.campaigns or report.scheduled or report.resumed or report.pulled
    ):
        say("  nothing was due")


def _show(campaign_id: int, now: Any, as_json: bool, *, verb: str | None = None) -> None:
    with marketing_db().session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        view = definition.campaign_json(session, campaign, now=now)
    if as_json:
        print_json(view)
        return
    if verb:
        say(f"{verb} campaign {view['id']}: {view['name']}")
    activation = view["activation"]
    say(
        f"{view['name']} ({view['status']}, version {view['version']}): "
        f"activated by {activation['group']!r} ({activation['mode']}); "
        f"{view['enrolled']} enrolled, {view['in_progress']} in progress, "
        f"{view['completed']} completed"
    )
    table = Table("step", "what", "waiting", "done", "outcomes")
    for step in view["steps"]:
        outcomes = ", ".join(f"{k} {n}" for k, n in sorted(step["outcomes"].items()))
        table.add_row(
            step["id"], step["describe"], str(step["waiting"]), str(step["done"]), outcomes
        )
    console.print(table)


def say(text: str) -> None:
    console.print(text, highlight=False, markup=False)
