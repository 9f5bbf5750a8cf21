"""`kith reports community|sync|mailing`: a report as tables, JSON, CSV or an HTML page."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from kith.cli.context import console, fail, instant, marketing_db, print_json, user_errors
from kith.marketing.reports.community import community_report
from kith.marketing.reports.mailing import mailing_report_of
from kith.marketing.reports.render import Report, render_html, report_csv
from kith.marketing.reports.sync import sync_report

app = typer.Typer(
    no_args_is_help=True,
    help="Reports: community activity, syncs and mailings, as tables, JSON, CSV or HTML.",
)

JSON = typer.Option(False, "--json", help="Print the report as JSON.")
CSV = typer.Option(False, "--csv", help="Print the report as CSV (section,label,series,value).")
HTML = typer.Option(None, "--html", help="Write the report as an HTML page with charts here.")
NOW = typer.Option(None, "--now", help="Report as of this ISO date or datetime (default: now).")
WEEKS = typer.Option(12, "--weeks", help="How many weeks, the current one last.")


@app.command("community")
def community(
    group: str | None = typer.Option(None, "--group", help="Only this target group's members."),
    weeks: int = WEEKS,
    as_json: bool = JSON,
    as_csv: bool = CSV,
    html: Path | None = HTML,
    now: str | None = NOW,
) -> None:
    """Community activity: by type per week, active and inactive, top contributors, scores,
    new members (for every synced member, or a group's)."""
    at = instant(now)
    with user_errors(), marketing_db().session() as session:
        report = community_report(session, now=at, group=group, weeks=weeks)
    _write(report, as_json, as_csv, html)


@app.command("sync")
def sync(
    group: str | None = typer.Option(None, "--group", help="Only this community group."),
    weeks: int = WEEKS,
    as_json: bool = JSON,
    as_csv: bool = CSV,
    html: Path | None = HTML,
    now: str | None = NOW,
) -> None:
    """Syncs: runs per week by outcome, members added and removed, skip reasons, failures."""
    at = instant(now)
    with user_errors(), marketing_db().session() as session:
        report = sync_report(session, now=at, group=group, weeks=weeks)
    _write(report, as_json, as_csv, html)


@app.command("mailing")
def mailing(
    mailing_id: int = typer.Argument(..., metavar="ID", help="The mailing's id."),
    as_json: bool = JSON,
    as_csv: bool = CSV,
    html: Path | None = HTML,
    now: str | None = NOW,
) -> None:
    """A mailing: sent, failed, bounced, opened, clicked, unsubscribed, by community activity."""
    at = instant(now)
    with user_errors(), marketing_db().session() as session:
        report = mailing_report_of(session, mailing_id, now=at)
    _write(report, as_json, as_csv, html)


def _write(report: Report, as_json: bool, as_csv: bool, html: Path | None) -> None:
    if as_json + as_csv + (html is not None) > 1:
        fail("choose one of --json, --csv and --html")
    if as_json:
        print_json(report.as_json())
    elif as_csv:
        typer.echo(report_csv(report), nl=False)
    elif html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(report), encoding="utf-8")
        console.print(f"Wrote {report.title} to {html}", markup=False)
    else:
        _print_tables(report)


def _print_tables(report: Report) -> None:
    """A table per section of the report: its labels down, its series across."""
    console.print(report.title, style="bold", markup=False)
    sections: dict[str, dict[str, dict[str, object]]] = {}
    for section, label, series, value in report.csv_rows():
        sections.setdefault(section, {}).setdefault(label, {})[series or "value"] = value
    for section, rows in sections.items():
        columns = list(dict.fromkeys(series for values in rows.values() for series in values))
        table = Table("", *columns, title=section.replace("_", " "))
        for label, values in rows.items():
            table.add_row(
                label, *("" if values.get(c) is None else str(values[c]) for c in columns)
            )
        console.print(table)
