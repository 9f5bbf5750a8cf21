"""`kith community rules ...`: Automation Rules from the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kith.cli import app
from kith.community import automation
from kith.config import get_settings
from kith.db import Database
from tests.integration.community.test_automation import BAD_CRITERIA, BAD_NODE, REPLIED, new_rule
from tests.integration.community.test_automation import people as people  # the shared fixture
from tests.support.community_world import NOW

AS_OF = ["--as-of", NOW.isoformat()]


@pytest.fixture
def kith(people: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose `kith` uses this test's community database."""
    monkeypatch.setenv("KITH_COMMUNITY_DB_URL", people.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def rules(kith: CliRunner, *args: str) -> Any:
    """Run `kith community rules ARGS --json`; the parsed output."""
    result = kith.invoke(app, ["community", "rules", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def criteria_file(tmp_path: Path, criteria: object) -> str:
    path = tmp_path / "criteria.json"
    path.write_text(json.dumps(criteria))
    return str(path)


def test_create_then_list_show_and_members_as_json(kith: CliRunner, tmp_path: Path) -> None:
    create = ["create", "--name", "Welcome back", "--criteria", criteria_file(tmp_path, REPLIED)]
    created = rules(
        kith, *create, "--action", "send_email", "--subject", "Hi", "--by", "ADMIN@example.org"
    )
    assert (created["action"], created["subject"], created["active"]) == ("send_email", "Hi", True)

    listed = rules(kith, "list", *AS_OF)
    shown = rules(kith, "show", "welcome back", *AS_OF)
    members = rules(kith, "members", created["key"], *AS_OF)

    assert [(rule["key"], rule["member_count"]) for rule in listed] == [(created["key"], 2)]
    assert (shown["name"], shown["criteria"], shown["member_count"]) == ("Welcome back", REPLIED, 2)
    assert [(m["contact_key"], m["legacy_contact_key"]) for m in members] == [
        ("recent", "L-RECENT"),
        ("nokey", None),
    ]


def test_a_non_super_admin_is_refused_with_exit_1_and_nothing_changes(
    kith: CliRunner, people: Database, tmp_path: Path
) -> None:
    key = new_rule(people)
    criteria = criteria_file(tmp_path, REPLIED)
    attempts = [
        ["create", "--name", "X", "--criteria", criteria, "--action", "notify_admin"],
        ["update", key, "--name", "X"],
        ["deactivate", key],
        ["delete", key],
    ]
    for attempt in attempts:
        result = kith.invoke(app, ["community", "rules", *attempt, "--by", "plain"])
        assert result.exit_code == 1, attempt
        assert "only Super Admins can create, change or delete Automation Rules" in result.output
    with people.session() as session:
        kept = automation.all_rules(session)
    assert [(rule.rule_key, rule.name, rule.active) for rule in kept] == [
        (key, "Welcome back", True)
    ]


@pytest.mark.parametrize(
    ("criteria", "action", "refusal"),
    [
        (BAD_CRITERIA, ["--action", "send_email", "--subject", "Hi"], BAD_NODE),
        (REPLIED, ["--action", "send_email"], "a send_email rule needs a subject"),
        (REPLIED, ["--action", "notify_admin", "--subject", "Hi"], "only send_email rules"),
    ],
)
def test_create_refuses_bad_criteria_or_subject_with_exit_1(
    kith: CliRunner,
    people: Database,
    tmp_path: Path,
    criteria: object,
    action: list[str],
    refusal: str,
) -> None:
    args = ["create", "--name", "X", "--criteria", criteria_file(tmp_path, criteria), *action]
    result = kith.invoke(app, ["community", "rules", *args, "--by", "admin"])
    assert result.exit_code == 1
    assert refusal in result.output
    with people.session() as session:
        assert automation.all_rules(session) == []


def test_deactivate_activate_update_and_delete(kith: CliRunner, people: Database) -> None:
    key = new_rule(people)
    by = ["--by", "admin@example.org"]
    assert rules(kith, "deactivate", "Welcome back", *by)["active"] is False
    assert rules(kith, "activate", key, *by)["active"] is True
    moved = rules(kith, "update", key, "--name", "Badge them", "--action", "award_badge", *by)
    assert (moved["name"], moved["action"], moved["subject"]) == ("Badge them", "award_badge", None)
    assert rules(kith, "delete", "badge them", *by) == {"deleted": key, "name": "Badge them"}
    missing = kith.invoke(app, ["community", "rules", "show", key])
    assert missing.exit_code == 1
    assert f"no Automation Rule has the key or name {key!r}" in missing.output


def test_the_plain_listing_names_each_rule_with_its_action_and_member_count(
    kith: CliRunner, people: Database
) -> None:
    welcome = new_rule(people)
    badge = new_rule(people, "Badge", action="award_badge", subject=None, active=False)
    result = kith.invoke(app, ["community", "rules", "list", *AS_OF])
    assert result.exit_code == 0, result.output
    rows = [line.split("│")[1:-1] for line in result.output.splitlines() if "rule_" in line]
    # by name; on a narrow terminal the name and subject wrap, the other columns never do
    assert [[cell.strip() for i, cell in enumerate(row) if i != 1 and i != 3] for row in rows] == [
        [badge, "award_badge", "no", "2"],
        [welcome, "send_email", "yes", "2"],
    ]
