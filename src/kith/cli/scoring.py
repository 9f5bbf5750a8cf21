"""`kith scoring set|show|explain|recompute`: the engagement scoring model and its scores."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from kith.cli.context import console, instant, marketing_db, print_json, read_json_file, user_errors
from kith.marketing.scoring.compute import Recomputed, apply_model, explain, recompute_scores
from kith.marketing.scoring.grades import SCORING_FOLDER
from kith.marketing.scoring.model import Definition, active_model

app = typer.Typer(
    no_args_is_help=True, help="Engagement scoring: a model of rules and grades, and scores."
)

JSON = typer.Option(False, "--json", help="Machine-readable output.")
NOW = typer.Option(None, "--now", help="Score as of this ISO date or datetime (default: now).")


@app.command("set")
def set_model(
    file: Path = typer.Option(..., "--file", help="The model as JSON: rules and grades."),
    now: str | None = NOW,
    as_json: bool = JSON,
) -> None:
    """Validate a model, make it the active one and score every subscriber with it."""
    at = instant(now)
    with user_errors():
        raw = read_json_file(file, "scoring model")
        with marketing_db().transaction() as session:
            recomputed = apply_model(session, raw, now=at)
    if as_json:
        print_json(recomputed.as_json())
        return
    console.print(f"Scoring model version {recomputed.version} is active.", markup=False)
    _print_recomputed(recomputed)


@app.command("show")
def show(as_json: bool = JSON) -> None:
    """The active model: its rules and its grades."""
    with marketing_db().session() as session:
        definition = active_model(session)
    if definition is None:
        _no_model(as_json)
    elif as_json:
        print_json(definition.as_json())
    else:
        _print_definition(definition)


@app.command("explain")
def explain_score(
    reference: str = typer.Argument(
        ..., metavar="EMAIL_OR_REMOTE_ID", help="The subscriber's email or Remote ID."
    ),
    now: str | None = NOW,
    as_json: bool = JSON,
) -> None:
    """A subscriber's points rule by rule, which add up to their score."""
    at = instant(now)
    with user_errors(), marketing_db().session() as session:
        explanation = explain(session, reference, now=at)
    if as_json:
        print_json(explanation.as_json())
        return
    table = Table("rule", "counts", "events", "points", title=f"{explanation.email}")
    for line in explanation.lines:
        table.add_row(line.rule, line.kind, str(line.events), str(line.points))
    table.add_row("total", "", "", str(explanation.score), style="bold")
    console.print(table)
    console.print(f"Grade: {explanation.grade or 'none'}", markup=False)
    if explanation.stored_score is not None and explanation.computed_at is not None:
        console.print(
            f"Stored: {explanation.stored_score} ({explanation.stored_grade or 'no grade'}), "
            f"computed {explanation.computed_at:%Y-%m-%d %H:%M} UTC",
            markup=False,
        )


@app.command("recompute")
def recompute(now: str | None = NOW, as_json: bool = JSON) -> None:
    """Score every subscriber with the active model and update the grade groups."""
    at = instant(now)
    with user_errors(), marketing_db().transaction() as session:
        recomputed = recompute_scores(session, now=at)
    if recomputed is None:
        _no_model(as_json)
    elif as_json:
        print_json(recomputed.as_json())
    else:
        _print_recomputed(recomputed)


def _no_model(as_json: bool) -> None:
    if as_json:
        print_json(None)
    else:
        console.print("No scoring model is set: kith scoring set --file model.json")


def _print_recomputed(recomputed: Recomputed) -> None:
    table = Table("grade", "subscribers", "group", "added", "removed")
    for grade, count in recomputed.grades.items():
        change = recomputed.changes.get(grade) if grade is not None else None
        table.add_row(
            grade or "(below every grade)",
            str(count),
            f"{SCORING_FOLDER} / {change.group}" if change else "",
            str(change.added) if change else "",
            str(change.removed) if change else "",
        )
    console.print(f"Scored {recomputed.scored} subscribers.", markup=False)
    console.print(table)


def _print_definition(definition: Definition) -> None:
    updated = f"{definition.updated_at:%Y-%m-%d %H:%M} UTC" if definition.updated_at else ""
    console.print(f"Scoring model version {definition.version} ({updated})", markup=False)
    rules = Table("#", "rule", "counts", "points", "cap", "within days")
    for rule in definition.rules:
        target = ", ".join(rule.target) if isinstance(rule.target, tuple) else rule.target
        rules.add_row(
            str(rule.position),
            rule.name,
            f"{rule.kind}: {target}" + ("" if rule.value is None else f" = {rule.value}"),
            str(rule.points),
            "" if rule.cap is None else str(rule.cap),
            "" if rule.within_days is None else str(rule.within_days),
        )
    console.print(rules)
    grades = Table("grade", "from score", "group")
    for grade in definition.grades:
        grades.add_row(grade.name, str(grade.min_score), f"{SCORING_FOLDER} / {grade.group_name}")
    console.print(grades)
