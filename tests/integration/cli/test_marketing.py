"""`kith marketing subscribers|folders|groups ...` against a real database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from kith.cli import app
from kith.config import get_settings
from kith.db import Database


@pytest.fixture
def kith(marketing_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Runs `kith ARGS...` on this test's marketing database; returns (exit code, output)."""
    monkeypatch.setenv("KITH_MARKETING_DB_URL", marketing_db.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["marketing", *args])
        return result.exit_code, result.output

    yield run
    get_settings.cache_clear()


def write(tmp_path: Path, name: str, *lines: str) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_subscribers_import_show_set_status_and_list(kith: Any, tmp_path: Path) -> None:
    people = write(
        tmp_path,
        "people.csv",
        "email,remote_id,first_name,last_name,status,chapter",
        "ann@example.org,R1,Ann,Lee,,North",
        "bo@example.org,,Bo,,,",
        "oops,R3,,,,",
    )
    code, output = kith("subscribers", "import", people, "--json")
    assert code == 0, output
    assert orjson.loads(output) == {
        "imported": 2,
        "updated": 0,
        "duplicates": 0,
        "rejected": [
            {
                "line": 4,
                "reason": "'oops' is not a valid email address: An email address must have an "
                "@-sign.",
            }
        ],
    }

    code, output = kith("subscribers", "show", "R1", "--json")
    assert code == 0 and orjson.loads(output)["fields"] == {"chapter": "North"}

    code, output = kith("subscribers", "set-status", "BO@example.org", "--status", "bounced")
    assert (code, output) == (0, "bo@example.org: bounced\n")
    code, output = kith("subscribers", "set-status", "R1", "--status", "gone")
    assert code == 1 and "status must be subscribed, unsubscribed or bounced" in output

    code, output = kith("subscribers", "list", "--json")
    assert [(s["email"], s["status"]) for s in orjson.loads(output)] == [
        ("ann@example.org", "subscribed"),
        ("bo@example.org", "bounced"),
    ]
    code, output = kith("subscribers", "list", "--status", "bounced", "--json")
    assert [s["email"] for s in orjson.loads(output)] == ["bo@example.org"]
    assert kith("subscribers", "show", "nobody@example.org")[0] == 1


def test_a_strict_import_with_a_bad_row_exits_1_and_imports_nothing(
    kith: Any, tmp_path: Path
) -> None:
    people = write(
        tmp_path,
        "people.csv",
        "email,remote_id,first_name,last_name,status",
        "ann@example.org,R1,,,",
        "ann@example.org,R2,,,maybe",
    )
    code, output = kith("subscribers", "import", people, "--strict")
    assert code == 1
    assert "line 3: status must be subscribed, unsubscribed, bounced or empty" in output
    assert orjson.loads(kith("subscribers", "list", "--json")[1]) == []


def test_groups_static_and_compound_from_the_command_line(kith: Any, tmp_path: Path) -> None:
    people = write(
        tmp_path,
        "people.csv",
        "email,remote_id,first_name,last_name,status",
        *(f"p{n}@example.org,R{n},,," for n in range(6)),
    )
    assert kith("subscribers", "import", people)[0] == 0
    assert kith("folders", "create", "Events") == (0, "Created the folder Events.\n")
    assert kith("groups", "create", "--name", "Donors")[0] == 0
    assert kith("groups", "create", "--name", "Gala", "--folder", "Events")[0] == 0
    donors = write(tmp_path, "donors.csv", "remote_id", "R0", "R1", "R2", "R3")
    gala = write(
        tmp_path, "gala.csv", "email", "p2@example.org", "p3@example.org", "p4@example.org"
    )
    assert kith("groups", "add-members", "donors", donors) == (
        0,
        "4 added, 0 already members, 0 rejected\n",
    )
    assert kith("groups", "add-members", "Gala", gala)[0] == 0
    assert kith(
        "groups", "remove-members", "Gala", write(tmp_path, "r.csv", "remote_id", "R4")
    ) == (
        0,
        "1 removed, 0 were not members, 0 rejected\n",
    )

    code, output = kith(
        "groups", "compound", "create", "--name", "Donors not at the gala",
        "--include", "Donors", "--include-mode", "any",
        "--exclude", "Gala", "--exclude-mode", "all",
        "--folder", "Events", "--json",
    )  # fmt: skip
    assert code == 0, output
    assert orjson.loads(output)["member_count"] == 2

    code, output = kith("groups", "members", "donors not at the gala", "--json")
    assert orjson.loads(output) == [
        {"email": "p0@example.org", "remote_id": "R0", "status": "subscribed"},
        {"email": "p1@example.org", "remote_id": "R1", "status": "subscribed"},
    ]

    code, output = kith("groups", "list", "--folder", "Events", "--json")
    assert [(g["name"], g["kind"], g["member_count"]) for g in orjson.loads(output)] == [
        ("Donors not at the gala", "compound", 2),
        ("Gala", "static", 2),
    ]
    code, output = kith("folders", "list", "--json")
    assert [(f["name"], f["group_count"]) for f in orjson.loads(output)] == [
        ("Main", 1),
        ("Events", 2),
    ]

    code, output = kith(
        "groups", "compound", "update", "--name", "Donors not at the gala",
        "--include", "Donors,Donors not at the gala", "--include-mode", "all",
    )  # fmt: skip
    assert code == 1
    assert "would contain itself: Donors not at the gala → Donors not at the gala" in output

    code, output = kith("groups", "delete", "Gala")
    assert code == 1 and "used by the compound group 'Donors not at the gala'" in output
    assert kith("groups", "delete", "Donors not at the gala")[0] == 0
    assert kith("groups", "delete", "Gala") == (0, "Deleted the group Gala.\n")
