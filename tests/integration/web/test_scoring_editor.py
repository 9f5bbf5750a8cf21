"""The scoring editor's server side over real HTTP, on SQLite and PostgreSQL: the preview of a
draft model (grades and scores, nothing saved; a refusal placed at its field) and the round trip
between the editor's text and `kith scoring show --json` / `kith scoring set --file`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from kith.csvimport.report import ImportReport
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.models import TargetGroup
from kith.marketing.scoring.models import CommunityActivityDay, ScoringModel, SubscriberScore
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from tests.conftest import BACKENDS, _side_database
from tests.integration.web.test_app import MARKETER, NOW, Site, _served
from tests.support.cli_world import kith_command
from tests.support.scoring_models import every_kind

# S-1 started 10 threads, S-2 three; S-3 only replied; S-4 is an editor's pick; S-5 is on the
# board (the field member_type); S-3 is a plain member
ACTIVITY = (
    ("S-1", "thread_started", 10),
    ("S-2", "thread_started", 3),
    ("S-3", "discussion_reply", 4),
)
DRAFT: dict[str, Any] = {
    "rules": [
        {"name": "threads", "activity": ["thread_started"], "points": 5, "cap": 30},
        {"name": "picked", "group": "Editors' pick", "points": 20},
        {"name": "board", "field": "member_type", "value": "board", "points": 3},
    ],
    "grades": [
        {"grade": "A", "min_score": 25},
        {"grade": "B", "min_score": 5},
        {"grade": "C", "min_score": 1},
    ],
}
EVERY_KIND = every_kind("Editors' pick")


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The web tests' site with five subscribers, their pulled activity and a static group."""
    folder = tmp_path_factory.mktemp("scoring-editor")
    with (
        contextmanager(_side_database)("community", request.param, request, folder) as community,
        contextmanager(_side_database)("marketing", request.param, request, folder) as marketing,
    ):
        for served in _served(community, marketing, folder):
            _add_scorers(served)
            yield served


def _add_scorers(site: Site) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    member_types = {3: "Member", 5: "Board"}
    rows = [
        SubscriberRow(n, f"s{n}@example.org", f"S-{n}", fields={"member_type": member_types.get(n)})
        for n in range(1, 6)
    ]
    with site.marketing.transaction() as session:
        SubscriberUpsert(session, now=NOW, source="import").write(rows, ImportReport())
        session.add_all(
            CommunityActivityDay(remote_id=remote_id, day=yesterday, activity_type=kind, count=n)
            for remote_id, kind, n in ACTIVITY
        )
        picked = create_group(session, "Editors' pick", now=NOW)
        change_members(session, picked, [["email"], ["s4@example.org"]], now=NOW)


def _saved_models(site: Site) -> tuple[int, int, int]:
    """How many model versions, stored scores and grade groups there are."""
    with site.marketing.session() as session:
        return (
            session.scalar(select(func.count()).select_from(ScoringModel)) or 0,
            session.scalar(select(func.count()).select_from(SubscriberScore)) or 0,
            session.scalar(
                select(func.count()).select_from(TargetGroup).where(TargetGroup.kind == "scoring")
            )
            or 0,
        )


def test_the_preview_counts_each_grade_and_the_scores_and_saves_nothing(site: Site) -> None:
    marketer = site.signed_in("marketing", MARKETER)
    before = _saved_models(site)

    answer = marketer.post_json("/scoring/preview", {"model": DRAFT})

    assert answer.status_code == 200, answer.text
    shown = answer.json()
    # S-1 30 (capped) A; S-2 15 B; S-4 20 B; S-5 3 C; S-3 and the site's two subscribers 0
    assert shown["scored"] == 7
    assert [(g["grade"], g["group"], g["subscribers"]) for g in shown["grades"]] == [
        ("A", "Grade A", 1),
        ("B", "Grade B", 2),
        ("C", "Grade C", 1),
    ]
    assert shown["ungraded"] == 3
    bars = shown["bars"]
    assert bars[0] == {"low": 0, "high": 3, "subscribers": 4} and bars[-1]["high"] >= 30
    assert sum(bar["subscribers"] for bar in bars) == 7
    assert [bar["subscribers"] for bar in bars if bar["low"] <= 15 <= bar["high"]] == [1]
    assert _saved_models(site) == before


@pytest.mark.parametrize(
    ("change", "at", "reason"),
    [
        (
            {"rules": [{**DRAFT["rules"][0], "cap": 0}]},
            {"part": "rule", "position": 1, "key": "cap"},
            "The most points must be a positive integer (at most 1,000,000,000)",
        ),
        (
            {"rules": [DRAFT["rules"][0], {"group": "Nobody", "points": 2}]},
            {"part": "rule", "position": 2, "key": "group"},
            "No target group is named 'Nobody'",
        ),
        (
            {"rules": [DRAFT["rules"][0], {"field": "member_type", "points": 2}]},
            {"part": "rule", "position": 2, "key": "value"},
            "What the field holds must be a text of 1 to 500 characters",
        ),
        (
            {"grades": [{"grade": "A", "min_score": 5}, {"grade": "B", "min_score": 9}]},
            {"part": "grade", "position": 2, "key": "min_score"},
            "The score must be below the previous grade's (5); grades go from the highest down",
        ),
    ],
)
def test_a_draft_saving_would_refuse_is_refused_with_its_reason_at_its_field(
    site: Site, change: dict[str, Any], at: dict[str, Any], reason: str
) -> None:
    marketer = site.signed_in("marketing", MARKETER)

    answer = marketer.post_json("/scoring/preview", {"model": DRAFT | change})

    assert answer.status_code == 422
    refusal = answer.json()
    assert refusal["at"] == at
    assert refusal["reason"].lower() == reason.lower()
    assert refusal["message"].startswith(f"{at['part']} {at['position']}")


def test_the_editor_shows_what_the_cli_prints_and_saves_what_the_cli_takes(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marketer = site.signed_in("marketing", MARKETER)
    written = tmp_path / "model.json"
    written.write_bytes(orjson.dumps(EVERY_KIND))
    with kith_command(monkeypatch, site.marketing, tmp_path / "var") as kith:
        assert kith("scoring", "set", "--file", str(written))[0] == 0
        printed = orjson.loads(kith("scoring", "show", "--json")[1])
        editor = unescape(marketer.page("/scoring/edit"))
        in_editor = json.loads(
            editor.split('name="model"')[1].split(">", 1)[1].split("</textarea>")[0]
        )
        saved = marketer.post("/scoring/edit", {"model": json.dumps(in_editor)})
        again = orjson.loads(kith("scoring", "show", "--json")[1])
        printed_file = tmp_path / "printed.json"
        printed_file.write_bytes(orjson.dumps(again))
        taken = kith("scoring", "set", "--file", str(printed_file))

    assert in_editor == {"rules": printed["rules"], "grades": printed["grades"]}
    assert in_editor["rules"] == EVERY_KIND["rules"]
    assert saved.status_code == 200, saved.text
    assert again["version"] == printed["version"] + 1
    assert (again["rules"], again["grades"]) == (printed["rules"], printed["grades"])
    assert taken[0] == 0, taken
