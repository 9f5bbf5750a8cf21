"""`kith community members|memberships|activity import` and `activity-types` end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from kith.cli import app
from kith.community.models import ActivityEvent, Member
from kith.config import get_settings
from kith.db import Database
from tests.support.import_files import ACTIVITY_HEADER, MEMBERS_HEADER, member_line


@pytest.fixture
def kith(
    community_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """A runner whose `kith` uses this test's community database."""
    monkeypatch.setenv("KITH_COMMUNITY_DB_URL", community_db.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def write(folder: Path, name: str, *lines: str) -> str:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def count(db: Database, model: type[Member] | type[ActivityEvent]) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_members_import_prints_a_json_summary_with_each_rejected_line(
    kith: CliRunner, community_db: Database, tmp_path: Path
) -> None:
    members = write(tmp_path, "members.csv", MEMBERS_HEADER, member_line("A"), member_line(""))

    result = kith.invoke(app, ["community", "members", "import", members, "--json"])

    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {
        "imported": 1,
        "updated": 0,
        "duplicates": 0,
        "rejected": [{"line": 3, "reason": "missing contact_key"}],
    }
    assert count(community_db, Member) == 1


def test_activity_import_reports_duplicates_and_rejections_in_plain_text(
    kith: CliRunner, community_db: Database, tmp_path: Path
) -> None:
    kith.invoke(
        app,
        [
            "community",
            "members",
            "import",
            write(tmp_path, "m.csv", MEMBERS_HEADER, member_line("A")),
        ],
    )
    activity = write(
        tmp_path,
        "activity.csv",
        ACTIVITY_HEADER,
        "e1,A,login,2026-06-01T10:00:00Z,",
        "e1,A,login,2026-06-01T10:00:00Z,",
        ",A,login,whenever,",
    )

    result = kith.invoke(app, ["community", "activity", "import", activity])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "1 imported, 0 updated, 1 duplicates skipped, 1 rejected",
        "line 4: occurred_at: unparseable date 'whenever'",
    ]
    assert count(community_db, ActivityEvent) == 1


def test_a_strict_import_with_a_bad_row_exits_1_and_imports_nothing(
    kith: CliRunner, community_db: Database, tmp_path: Path
) -> None:
    members = write(tmp_path, "members.csv", MEMBERS_HEADER, member_line("A"), "B,,,,,,,,,,perhaps")

    result = kith.invoke(app, ["community", "members", "import", members, "--strict", "--json"])

    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["rejected"] == [
        {
            "line": 3,
            "reason": "is_super_admin must be true, false, 1, 0, yes, no or empty, not 'perhaps'",
        }
    ]
    assert "nothing imported: 1 row rejected" in result.stderr
    assert count(community_db, Member) == 0


def test_memberships_import_runs_the_memberships_service(
    kith: CliRunner, community_db: Database, tmp_path: Path
) -> None:
    kith.invoke(
        app,
        [
            "community",
            "members",
            "import",
            write(tmp_path, "m.csv", MEMBERS_HEADER, member_line("A")),
        ],
    )
    memberships = write(
        tmp_path, "ms.csv", "contact_key,community,role,joined_at", "A,North,,", "Z,North,,"
    )

    result = kith.invoke(app, ["community", "memberships", "import", memberships, "--json"])

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert (report["imported"], report["rejected"]) == (
        1,
        [{"line": 3, "reason": "unknown contact_key 'Z'"}],
    )


def test_a_file_with_a_wrong_header_exits_1_naming_the_missing_columns(
    kith: CliRunner, tmp_path: Path
) -> None:
    activity = write(tmp_path, "activity.csv", "contact_key,type,when", "A,login,2026-06-01")

    result = kith.invoke(app, ["community", "activity", "import", activity])

    assert result.exit_code == 1
    assert "lacks the columns event_id, occurred_at, community" in result.stderr


def test_a_file_that_is_not_utf8_exits_1(kith: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_bytes(f"{MEMBERS_HEADER}\nA,,caf\xe9@example.org,,,,,,,,\n".encode("latin-1"))

    result = kith.invoke(app, ["community", "members", "import", str(path)])

    assert result.exit_code == 1
    assert "is not UTF-8 text" in result.stderr


def test_activity_types_add_then_list(kith: CliRunner) -> None:
    added = kith.invoke(app, ["community", "activity-types", "add", "webinar_attended", "--json"])
    again = kith.invoke(app, ["community", "activity-types", "add", "webinar_attended"])
    listed = kith.invoke(app, ["community", "activity-types", "list", "--json"])

    assert added.exit_code == 0, added.output
    assert orjson.loads(added.stdout) == {"id": 9, "name": "webinar_attended", "builtin": False}
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    assert orjson.loads(listed.stdout)[-1] == {
        "id": 9,
        "name": "webinar_attended",
        "builtin": False,
    }
