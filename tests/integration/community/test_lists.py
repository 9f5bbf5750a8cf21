"""Custom User Lists: Super Admins only, unique names, preview and members, through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kith.cli import app
from kith.community import lists, saved_criteria
from kith.config import get_settings
from kith.db import Database
from kith.errors import Conflict, NotFound, PermissionDenied
from tests.support.community_world import NOW, add_events, add_list_unchecked, add_member

POSTED = {"activity": "discussion_reply", "within_days": 30}


@pytest.fixture
def people(community_db: Database) -> Database:
    with community_db.transaction() as session:
        add_member(session, "admin", email="Admin@Example.org", is_super_admin=True)
        add_member(session, "plain", email="plain@example.org")
        for number in range(25):
            poster = add_member(session, f"p{number:02}", legacy_contact_key=f"L{number}")
            add_events(session, poster, "discussion_reply", NOW - timedelta(days=number))
    return community_db


def test_only_super_admins_create_edit_or_delete_lists(people: Database) -> None:
    with people.transaction() as session:
        with pytest.raises(PermissionDenied, match=r"plain@example\.org is not a Super Admin"):
            lists.create_list(session, name="Informz Posters", criteria=POSTED, by="plain", now=NOW)
        created = lists.create_list(
            session, name="Informz Posters", criteria=POSTED, by="admin@example.org", now=NOW
        )
        with pytest.raises(PermissionDenied):
            lists.update_list(session, created.list_key, by="plain", now=NOW, name="Other")
        with pytest.raises(PermissionDenied):
            lists.delete_list(session, created.list_key, by="plain@example.org")
        assert lists.get_list(session, "informz posters").created_by == "admin"


def test_names_are_unique_ignoring_case(people: Database) -> None:
    with people.transaction() as session:
        lists.create_list(session, name="Informz Posters", criteria=POSTED, by="admin", now=NOW)
        with pytest.raises(Conflict, match="already exists"):
            lists.create_list(
                session, name="INFORMZ posters ", criteria=POSTED, by="admin", now=NOW
            )


def test_a_deleted_list_is_gone(people: Database) -> None:
    with people.transaction() as session:
        created = lists.create_list(session, name="Temp", criteria=POSTED, by="admin", now=NOW)
        lists.delete_list(session, "Temp", by="admin")
        with pytest.raises(NotFound):
            lists.get_list(session, created.list_key)


def test_rename_keeps_the_key_and_new_criteria_apply(people: Database) -> None:
    with people.transaction() as session:
        created = lists.create_list(session, name="A", criteria=POSTED, by="admin", now=NOW)
        narrower = {"activity": "discussion_reply", "within_days": 10}
        lists.update_list(session, "A", by="admin", now=NOW, name="B", criteria=narrower)
        renamed = lists.get_list(session, created.list_key)
        assert renamed.name == "B"
        assert saved_criteria.count_members(session, renamed.criteria, now=NOW) == 11


def test_iter_members_reads_every_member_once_in_small_chunks(people: Database) -> None:
    with people.transaction() as session:
        created = lists.create_list(
            session, name="All posters", criteria=POSTED, by="admin", now=NOW
        )
        members = saved_criteria.iter_matched_members(session, created.criteria, now=NOW, chunk=7)
        keys = [m.contact_key for m in members]
    assert keys == [f"p{number:02}" for number in range(25)]


@pytest.fixture
def cli(people: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KITH_COMMUNITY_DB_URL", people.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def write_criteria(tmp_path: Path, criteria: object) -> str:
    path = tmp_path / "criteria.json"
    path.write_text(json.dumps(criteria))
    return str(path)


def test_cli_refuses_a_non_super_admin_with_exit_1(cli: CliRunner, tmp_path: Path) -> None:
    criteria = write_criteria(tmp_path, POSTED)
    args = ["community", "lists", "create", "--name", "X", "--criteria", criteria, "--by", "plain"]
    result = cli.invoke(app, args)
    assert result.exit_code == 1
    assert "only Super Admins can create, edit or delete lists" in result.output


def test_cli_reports_invalid_criteria_with_the_node_path(cli: CliRunner, tmp_path: Path) -> None:
    criteria = write_criteria(tmp_path, {"all": [{"activity": "posting"}]})
    result = cli.invoke(app, ["community", "lists", "preview", "--criteria", criteria])
    assert result.exit_code == 1
    assert "criteria.all[0].activity: unknown activity type 'posting'" in result.output


def test_cli_preview_counts_and_samples_twenty_as_of_a_date(cli: CliRunner, tmp_path: Path) -> None:
    criteria = write_criteria(tmp_path, POSTED)
    as_of = (NOW + timedelta(days=10)).isoformat()
    args = ["community", "lists", "preview", "--criteria", criteria, "--as-of", as_of, "--json"]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    preview = json.loads(result.output)
    assert preview["count"] == 21  # p00..p20: on or after NOW - 20 days
    assert [m["contact_key"] for m in preview["sample"]] == [f"p{n:02}" for n in range(20)]


def test_cli_create_then_members_as_json(cli: CliRunner, tmp_path: Path) -> None:
    criteria = write_criteria(tmp_path, {"activity": "discussion_reply", "min": 1})
    create = ["community", "lists", "create", "--name", "Informz Posters", "--criteria", criteria]
    created = cli.invoke(app, [*create, "--by", "Admin@example.org", "--json"])
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["member_count"] == 25
    result = cli.invoke(app, ["community", "lists", "members", "Informz Posters", "--json"])
    assert result.exit_code == 0, result.output
    members = json.loads(result.output)
    assert len(members) == 25
    assert members[3] == {
        "contact_key": "p03",
        "legacy_contact_key": "L3",
        "email": "p03@example.org",
        "first_name": None,
        "last_name": None,
    }
    listed = json.loads(cli.invoke(app, ["community", "lists", "list", "--json"]).output)
    assert [(item["name"], item["member_count"]) for item in listed] == [("Informz Posters", 25)]


@pytest.mark.parametrize(
    ("criteria", "refusal"),
    [
        pytest.param(
            {"field": "email", "op": "in", "value": [f"m{n}@example.org" for n in range(10**6)]},
            "criteria.field.value: 1,000,000 values; a condition takes at most 1,000",
            id="a million values in an in",
        ),
        pytest.param(
            '{"not": ' * 999 + json.dumps(POSTED) + "}" * 999,  # json.dumps does not go so deep
            "criteria" + ".not" * 20 + ": the criteria are nested more than 20 deep",
            id="nested 1,000 deep",
        ),
    ],
)
def test_cli_refuses_criteria_beyond_the_limits_in_one_line(
    cli: CliRunner, tmp_path: Path, criteria: object, refusal: str
) -> None:
    criteria_file = tmp_path / "criteria.json"
    criteria_file.write_text(criteria if isinstance(criteria, str) else json.dumps(criteria))

    result = cli.invoke(app, ["community", "lists", "preview", "--criteria", str(criteria_file)])

    assert result.exit_code == 1
    assert result.output.splitlines() == [f"error: {refusal}"]


def test_cli_lists_a_list_it_cannot_count_with_the_reason_and_counts_the_others(
    cli: CliRunner, people: Database
) -> None:
    with people.transaction() as session:
        lists.create_list(session, name="Posters", criteria=POSTED, by="admin", now=NOW)
        add_list_unchecked(session, "Too many", {"any": [POSTED] * 150})

    table = cli.invoke(app, ["community", "lists", "list", "--as-of", NOW.isoformat()])
    listed = cli.invoke(app, ["community", "lists", "list", "--as-of", NOW.isoformat(), "--json"])

    assert table.exit_code == 0, table.output
    assert "cannot count" in table.output
    assert (
        "'Too many' (cul_too_many) cannot be counted: criteria.any[99]: the criteria have more "
        "than 100 conditions and groups"
    ) in table.output
    assert [(item["name"], item["member_count"]) for item in json.loads(listed.output)] == [
        ("Posters", 25),
        ("Too many", None),
    ]
