"""`kith community rules ...`: Automation Rules, and the members each matches now."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from rich.table import Table

from kith.cli import community_criteria as shared
from kith.cli.context import community_db, console, print_json, user_errors
from kith.clock import utcnow
from kith.community import automation
from kith.community.automation import RuleSummary

app = typer.Typer(no_args_is_help=True, help="Automation Rules (Super Admins change them).")

RULE = shared.key_or_name("KEY_OR_NAME", "Rule")
ACTION_HELP = f"One of: {', '.join(automation.ACTIONS)}."


@app.command("create")
def create(
    name: str = typer.Option(..., "--name"),
    criteria: Path = shared.CRITERIA_FILE,
    action: str = typer.Option(..., "--action", help=ACTION_HELP),
    subject: str | None = typer.Option(None, "--subject", help="The email subject (send_email)."),
    inactive: bool = typer.Option(False, "--inactive", help="Create it switched off."),
    by: str = shared.BY,
    as_json: bool = shared.JSON,
) -> None:
    """Create an Automation Rule (Super Admins only)."""
    now = utcnow()
    with user_errors(), community_db().transaction() as session:
        created = automation.create_rule(
            session,
            name=name,
            criteria=shared.read_criteria(criteria),
            action=action,
            subject=subject,
            active=not inactive,
            by=by,
            now=now,
        )
        _show(automation.rule_summary(session, created, now=now), as_json, verb="Created")


@app.command("update")
def update(
    rule_ref: str = RULE,
    name: str | None = shared.NEW_NAME,
    criteria: Path | None = shared.NEW_CRITERIA_FILE,
    action: str | None = typer.Option(None, "--action", help=ACTION_HELP),
    subject: str | None = typer.Option(None, "--subject", help="A new email subject."),
    by: str = shared.BY,
    as_json: bool = shared.JSON,
) -> None:
    """Change a rule's name, criteria, action or subject (Super Admins only).

    A rule moved off send_email drops its subject; one moved onto it needs --subject.
    """
    new_criteria = shared.read_criteria(criteria) if criteria else None
    now = utcnow()
    with user_errors(), community_db().transaction() as session:
        updated = automation.update_rule(
            session,
            rule_ref,
            by=by,
            now=now,
            name=name,
            criteria=new_criteria,
            action=action,
            subject=subject,
        )
        _show(automation.rule_summary(session, updated, now=now), as_json, verb="Updated")


@app.command("activate")
def activate(rule_ref: str = RULE, by: str = shared.BY, as_json: bool = shared.JSON) -> None:
    """Switch a rule on (Super Admins only)."""
    _set_active(rule_ref, True, by, as_json)


@app.command("deactivate")
def deactivate(rule_ref: str = RULE, by: str = shared.BY, as_json: bool = shared.JSON) -> None:
    """Switch a rule off; it is kept, and still shows whom it would match (Super Admins only)."""
    _set_active(rule_ref, False, by, as_json)


@app.command("delete")
def delete(rule_ref: str = RULE, by: str = shared.BY, as_json: bool = shared.JSON) -> None:
    """Delete a rule (Super Admins only)."""
    shared.delete(automation.RULES, rule_ref, by=by, as_json=as_json)


@app.command("show")
def show(
    rule_ref: str = RULE, as_of: str | None = shared.AS_OF, as_json: bool = shared.JSON
) -> None:
    """A rule's key, action, subject, state, criteria and current member count."""
    now = shared.as_of_instant(as_of)
    with user_errors(), community_db().session() as session:
        _show(
            automation.rule_summary(session, automation.get_rule(session, rule_ref), now=now),
            as_json,
        )


@app.command("list")
def list_all(as_of: str | None = shared.AS_OF, as_json: bool = shared.JSON) -> None:
    """Every Automation Rule with the number of members it matches now."""
    with user_errors(), community_db().session() as session:
        summaries = automation.rule_summaries(session, now=shared.as_of_instant(as_of))
    if as_json:
        print_json([summary.as_json() for summary in summaries])
        return
    table = Table()
    table.add_column("Key", no_wrap=True)  # what other commands take: never cut
    table.add_column("Name")
    table.add_column("Action", no_wrap=True)
    table.add_column("Subject")
    table.add_column("Active", no_wrap=True)
    table.add_column("Members", justify="right", no_wrap=True)
    for summary in summaries:
        rule = summary.rule
        table.add_row(
            rule.rule_key,
            rule.name,
            rule.action,
            rule.subject or "",
            "yes" if rule.active else "no",
            shared.members_cell(summary.member_count, summary.error),
        )
    console.print(table)
    shared.print_count_errors(
        (item.rule.name, item.rule.rule_key, item.error) for item in summaries
    )


@app.command("members")
def members(
    rule_ref: str = RULE, as_of: str | None = shared.AS_OF, as_json: bool = shared.JSON
) -> None:
    """Every member the rule matches now (or --as-of), active or not."""
    shared.print_members(
        automation.RULES, rule_ref, now=shared.as_of_instant(as_of), as_json=as_json
    )


def _set_active(rule_ref: str, active: bool, by: str, as_json: bool) -> None:
    now = utcnow()
    with user_errors(), community_db().transaction() as session:
        changed = automation.update_rule(session, rule_ref, by=by, now=now, active=active)
        _show(
            automation.rule_summary(session, changed, now=now),
            as_json,
            verb="Activated" if active else "Deactivated",
        )


def _show(summary: RuleSummary, as_json: bool, verb: str | None = None) -> None:
    if as_json:
        print_json(summary.as_json())
        return
    rule = summary.rule
    heading = f"{verb} " if verb else ""
    state = "active" if rule.active else "inactive"
    subject = f" {rule.subject!r}" if rule.subject else ""
    console.print(
        f"{heading}{rule.name!r} ({rule.rule_key}): {rule.action}{subject}, {state}, "
        f"{summary.member_count} members",
        highlight=False,
    )
    if not verb:
        console.print_json(orjson.dumps(rule.criteria).decode())
