"""`make demo` on the embedded default: community, lists, and the lists read over HTTP."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest

from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.demo import DEMO_LISTS, run_demo
from kith.demo.campaigns import POSTERS
from kith.demo.marketing import BOARD, COMPOUND, NEWSLETTER
from kith.errors import Conflict
from kith.marketing.groups import target_groups as groups
from kith.marketing.models import Mailing


def demo_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key="demo-test")


def test_demo_builds_lists_and_the_api_reports_the_same_counts(tmp_path: Path) -> None:
    report = run_demo(demo_settings(tmp_path / "var"), now=utcnow())
    assert [row["reason"].split(" ")[0] for row in report.imports["activity"].rejected] == [
        "unknown",
        "unknown",
        "occurred_at:",
    ]
    counts = {summary.name: summary.member_count for summary in report.lists}
    assert set(counts) == {name for name, _ in DEMO_LISTS}
    assert all(count > 0 for count in counts.values())
    over_http = {item["name"]: item["member_count"] for item in report.lists_over_http}
    assert over_http == counts
    connection = report.connection
    assert report.connection_check.list_count == len(DEMO_LISTS)
    assert report.integration.active and report.integration.password_set
    informz = {name for name, _ in DEMO_LISTS if name.startswith("Informz ")}
    assert {f"Informz {item['group']}" for item in connection.refresh.added} == informz
    assert [item["list"] for item in connection.refresh.not_taken] == ["Chapter Leads"]
    for name, run in connection.syncs.items():
        assert run.status == "completed", (name, run.error)
        assert run.in_list == counts[f"Informz {name}"]
        assert run.in_list == run.members + sum((run.skipped or {}).values())


def test_demo_imports_subscribers_and_counts_its_compound_group(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path / "var")
    report = run_demo(settings, now=utcnow())

    marketing = report.marketing
    assert [row["line"] for row in marketing.subscribers.rejected] == [214, 215]
    counts = {summary.group.name: summary.member_count for summary in marketing.groups}
    db = Database(settings.marketing_url)
    with db.session() as session:
        members = {
            name: {s.id for s in groups.iter_members(session, groups.get_group(session, name))}
            for name in (NEWSLETTER, BOARD)
        }
    db.dispose()
    assert counts[COMPOUND] == len(members[NEWSLETTER] - members[BOARD]) > 0
    assert counts[BOARD] == len(members[BOARD]) > 0
    over_http = {group["name"]: group["member_count"] for group in report.groups_over_http}
    synced = {name: run.members for name, run in report.connection.syncs.items()}
    assert {name: over_http[name] for name in counts | synced} == counts | synced
    graded = {f"Grade {grade}": n for grade, n in report.scoring.grades.items() if grade}
    assert {name: over_http[name] for name in graded} == graded


def test_demo_sends_a_mailing_to_the_outbox_and_the_guard_holds_another(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path / "var")
    report = run_demo(settings, now=utcnow())

    mailings = report.mailings
    totals = mailings.report["totals"]
    assert mailings.sent.status == "sent"
    assert isinstance(totals, dict) and totals["sent"] > 0 and totals["failed"] == 0
    subjects = [
        message_from_bytes(path.read_bytes())["Subject"]
        for path in (tmp_path / "var" / "outbox").glob("*.eml")
    ]
    assert (
        sum(s.startswith("Thanks for getting the conversation") for s in subjects) == totals["sent"]
    )
    # a test went first, to the marketer alone; the copy waits for its time, past the demo's ticks
    tested = [s for s in subjects if s.startswith("[Test] Thanks for getting the conversation")]
    assert [sent.status for sent in mailings.tested.sent] == ["sent"] and len(tested) == 1
    with Database(settings.marketing_url).session() as session:
        copy = session.get_one(Mailing, mailings.scheduled.id)
        assert (copy.status, copy.scheduled_for) == ("scheduled", mailings.scheduled.scheduled_for)
    # held before its deliveries were written: its page lists recipients, as `make demo` says
    assert mailings.held.status == "held" and mailings.held.prepared_at is None
    assert "rule 'Welcome new members'" in (mailings.held.status_reason or "")
    bounce = report.bounce
    assert bounce is not None
    assert [(c.email, c.status) for c in bounce.intake.changes] == [(bounce.email, "bounced")]
    assert "subscribed -> bounced (hard_bounce)" in bounce.history[0]
    assert (bounce.totals["bounced"], bounce.totals["hard_bounces"]) == (1, 1)
    privacy = report.privacy  # their data, as export-data gives it: the bounce among it
    assert privacy is not None and privacy.email == bounce.email
    assert (privacy.sections["subscriber"], privacy.sections["bounces"]) == (1, 1)


def test_demo_runs_again_over_its_own_data(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path / "var")
    first = run_demo(settings, now=utcnow())
    second = run_demo(settings, now=utcnow())
    assert second.imports["members"].imported == first.imports["members"].imported


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "community.db").write_text("someone's real data")
    with pytest.raises(Conflict, match="holds data the demo did not make"):
        run_demo(demo_settings(data_dir), now=utcnow())
    assert (data_dir / "community.db").read_text() == "someone's real data"


def test_demo_runs_the_welcome_campaign_through_its_wait_and_decide(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path / "var")
    report = run_demo(settings, now=utcnow())

    view = report.campaign.view
    steps = {step["id"]: step for step in view["steps"]}
    enrolled = report.campaign.first_tick.campaigns[view["name"]].enrolled
    assert enrolled > POSTERS
    assert steps["welcome"]["outcomes"] == {"sent": enrolled}
    assert steps["posted"]["outcomes"] == {"yes": POSTERS, "no": enrolled - POSTERS}
    assert steps["thank-you"]["outcomes"] == {"sent": POSTERS}
    assert steps["nudge"]["outcomes"] == {"sent": enrolled - POSTERS}
    assert view["completed"] == enrolled
    subjects = [
        message_from_bytes(path.read_bytes())["Subject"]
        for path in (tmp_path / "var" / "outbox").glob("*.eml")
    ]
    assert sum(subject.startswith("Welcome, ") for subject in subjects) == enrolled
    assert (
        sum(subject.startswith("Thank you for your first posts") for subject in subjects) == POSTERS
    )
