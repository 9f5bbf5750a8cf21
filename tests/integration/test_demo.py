"""`make demo` on the embedded default: community, lists, and the lists read over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from kith.clock import utcnow
from kith.config import Settings
from kith.demo import DEMO_LISTS, run_demo
from kith.errors import Conflict


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
