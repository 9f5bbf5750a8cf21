"""The scoring editor in Chromium: a model of two rules and three grades built by hand (no text
typed as JSON), its preview, saving it and the grade groups filling; a wrong input refused with
its reason next to the field; the keyboard alone; and the round trip with `kith scoring`.

The module's app is seeded as the admin pages' one (conftest.py): subscribers member1..6 with
Remote IDs R-1..R-6 (member6 unsubscribed). This module adds their pulled community activity
and a static group "Volunteers".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import expect

from kith.db import Database
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.scoring.models import CommunityActivityDay
from tests.e2e.conftest import MARKETER, Served, sign_in
from tests.e2e.test_see_who import shown
from tests.support.cli_world import kith_command
from tests.support.scoring_models import every_kind

# (Remote ID, activity type, events a week ago)
ACTIVITY = (
    ("R-1", "thread_started", 6),
    ("R-2", "thread_started", 2),
    ("R-3", "discussion_reply", 1),
    ("R-4", "login", 3),
)
BUILT: dict[str, Any] = {
    "rules": [
        {
            "name": "Threads",
            "activity": ["discussion_reply", "thread_started"],  # in the picker's order
            "points": 5,
            "cap": 25,
            "within_days": 30,
        },
        {"name": "Volunteers", "group": "Volunteers", "points": 10},
    ],
    "grades": [
        {"grade": "Champion", "min_score": 20},
        {"grade": "Regular", "min_score": 10},
        {"grade": "Newcomer", "min_score": 1},
    ],
}
EVERY_KIND = every_kind("Volunteers")


@pytest.fixture(scope="module")
def community_activity(served: Served) -> Iterator[None]:
    """The activity above as pulled from the community, and member4 a volunteer."""
    db = Database(served.settings.marketing_url)
    day = datetime.now(UTC).date() - timedelta(days=7)
    with db.transaction() as session:
        session.add_all(
            CommunityActivityDay(remote_id=remote_id, day=day, activity_type=kind, count=count)
            for remote_id, kind, count in ACTIVITY
        )
        volunteers = create_group(session, "Volunteers", now=datetime.now(UTC))
        change_members(session, volunteers, [["remote_id"], ["R-4"]], now=datetime.now(UTC))
    db.dispose()
    yield


def open_editor(page: Any, served: Served) -> None:
    sign_in(page, served.url, "marketing", MARKETER)
    page.goto(f"{served.url}/marketing/scoring/edit")
    expect(page.locator("#scoring-form-fields")).to_be_visible()


def start_empty(page: Any) -> None:
    """Remove the rules and grades the editor starts from."""
    for what in ("rule", "grade"):
        while page.get_by_role("button", name=f"Remove {what} 1").count():
            page.get_by_role("button", name=f"Remove {what} 1").click()


def add_grade(page: Any, position: int, name: str, from_score: str) -> None:
    page.get_by_role("button", name="Add a grade").click()
    page.get_by_label(f"Grade {position}: grade").fill(name)
    page.get_by_label(f"Grade {position}: from score").fill(from_score)


def grade_group_members(page: Any, served: Served, grade: str) -> Any:
    """The rows of the members page of the grade's group, reached from the scoring page."""
    page.goto(f"{served.url}/marketing/scoring")
    page.get_by_role("link", name=grade, exact=True).click()
    expect(page.locator("h1")).to_contain_text(f"Grade {grade}")
    return page.locator("#people tbody tr")


def test_a_model_built_by_hand_is_previewed_saved_and_fills_the_grade_groups(
    context: Any,
    served: Served,
    community_activity: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = context.new_page()
    open_editor(page, served)
    start_empty(page)

    for position, (name, from_score) in enumerate(
        (("Champion", "20"), ("Regular", "10"), ("Newcomer", "1")), start=1
    ):
        add_grade(page, position, name, from_score)
    expect(page.locator("#model-0-rules-error")).to_have_text("Add at least one rule.")
    page.get_by_role("button", name="Add a rule").click()
    rule = page.locator("#rule-1")
    rule.get_by_label("Name").fill("Threads")
    rule.locator("summary").click()
    rule.get_by_label("Thread started").check()
    rule.get_by_label("Discussion reply").check()
    rule.get_by_label("Points per event").fill("5")
    rule.get_by_label("At most (points)").fill("0")
    expect(page.locator("#rule-1-cap-error")).to_have_text(
        "The most points must be a positive integer (at most 1,000,000,000)"
    )
    expect(rule.get_by_label("At most (points)")).to_have_attribute("aria-invalid", "true")
    shown(page, "scoring-editor-refused")
    rule.get_by_label("At most (points)").fill("25")
    rule.get_by_label("In the last (days)").fill("30")
    page.get_by_role("button", name="Add a rule").click()
    second = page.locator("#rule-2")
    second.get_by_label("Name").fill("Volunteers")
    second.get_by_label("Counts").select_option(label="Being in a group")
    second.get_by_label("Group").select_option("Volunteers")
    second.get_by_label("Points for being in it").fill("10")

    # member1 25 (capped), member2 and member4 10, member3 5, member5 and member6 nothing
    grades = page.locator("#preview-grades tbody tr")
    expect(grades).to_have_count(4)
    expect(grades.nth(0)).to_contain_text("Champion")
    expect(grades.nth(0).locator("td").last).to_have_text("1")
    expect(grades.nth(1).locator("td").last).to_have_text("2")
    expect(grades.nth(2).locator("td").last).to_have_text("1")
    expect(grades.nth(3).locator("td").last).to_have_text("2")
    expect(page.locator("#preview-histogram li").first).to_contain_text("2")
    expect(page.locator("#rule-1-cap-error")).to_be_empty()
    shown(page, "scoring-editor-preview")

    page.get_by_role("button", name="Save and score everyone").click()
    expect(page.get_by_role("status")).to_contain_text("Scored 6 subscribers")
    shown(page, "scoring-saved")
    expect(grade_group_members(page, served, "Regular")).to_have_count(2)
    champions = grade_group_members(page, served, "Champion")
    expect(champions).to_have_count(1)
    expect(champions).to_contain_text("member1@example.org")
    shown(page, "scoring-grade-group")

    page.get_by_role("link", name="member1@example.org").click()
    page.get_by_role("link", name="Explain this score").click()
    expect(page.locator("#explanation caption")).to_contain_text("25 points, grade Champion")

    with kith_command(monkeypatch, Database(served.settings.marketing_url), tmp_path) as kith:
        printed = orjson.loads(kith("scoring", "show", "--json")[1])
    assert {"rules": printed["rules"], "grades": printed["grades"]} == BUILT


def test_the_keyboard_alone_adds_a_rule_picks_types_previews_and_saves(
    context: Any, served: Served, community_activity: None
) -> None:
    page = context.new_page()
    open_editor(page, served)

    tab_to(page, "#add-rule")
    page.keyboard.press("Enter")
    name = page.locator(f"#rule-{rule_count(page)}-name")
    expect(name).to_be_focused()
    page.keyboard.type("Logins")
    page.keyboard.press("Tab")  # past the name's hint to Counts, then the types
    tab_to(page, f"#rule-{rule_count(page)}-activity")
    page.keyboard.press("Enter")
    tab_to(page, f"#rule-{rule_count(page)} input[value=login]")
    page.keyboard.press("Space")
    page.keyboard.press("Escape")
    expect(page.locator(f"#rule-{rule_count(page)}-activity")).to_be_focused()
    expect(page.locator(f"#rule-{rule_count(page)}-activity")).to_have_text("Activity: Login")
    tab_to(page, f"#rule-{rule_count(page)}-points")
    page.keyboard.press("Control+A")
    page.keyboard.type("4")
    page.keyboard.press("Enter")  # the preview, not a save
    expect(page).to_have_url(f"{served.url}/marketing/scoring/edit")
    expect(page.locator("#preview-scored")).to_have_text("6 subscribers would be scored.")
    shown(page, "scoring-editor-keyboard")

    tab_to(page, "#scoring-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Scored 6 subscribers")
    expect(page.get_by_role("cell", name="Logins")).to_be_visible()


def test_a_model_set_with_kith_scoring_is_saved_unchanged_by_the_editor(
    context: Any,
    served: Served,
    community_activity: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written = tmp_path / "model.json"
    written.write_bytes(orjson.dumps(EVERY_KIND))
    db = Database(served.settings.marketing_url)
    page = context.new_page()
    with kith_command(monkeypatch, db, tmp_path / "var") as kith:
        assert kith("scoring", "set", "--file", str(written))[0] == 0
        before = orjson.loads(kith("scoring", "show", "--json")[1])
        open_editor(page, served)
        expect(page.locator("#rule-3-kind")).to_have_value("open")
        expect(page.locator("#rule-5-group")).to_have_value("Volunteers")
        expect(page.locator("#rule-6-value")).to_have_value("Board")
        shown(page, "scoring-editor-every-kind")
        expect(page.locator("#rule-2-activity")).to_have_text("Activity: any activity")
        page.get_by_role("button", name="Save and score everyone").click()
        expect(page.get_by_role("status")).to_contain_text("Scored 6 subscribers")
        after = orjson.loads(kith("scoring", "show", "--json")[1])
    db.dispose()

    assert after["version"] == before["version"] + 1
    assert (after["rules"], after["grades"]) == (EVERY_KIND["rules"], EVERY_KIND["grades"])


def test_text_the_rows_cannot_show_stays_text_and_is_refused_as_typed(
    context: Any, served: Served, community_activity: None
) -> None:
    typed = (
        '{"rules": [{"name": "x", "activity": "any", "points": 1, "colour": "red"}],\n'
        ' "grades": [{"grade": "A", "min_score": 1}]}'
    )
    page = context.new_page()
    open_editor(page, served)
    page.get_by_text("Advanced: edit as text").click()
    page.get_by_label("The model as text").fill(typed)
    page.get_by_label("The model as text").blur()
    expect(page.locator("#scoring-form-fields")).to_be_hidden()
    page.get_by_role("button", name="Save and score everyone").click()

    expect(page.locator("#model-error")).to_contain_text("rule 1 (x): unknown key 'colour'")
    expect(page.get_by_label("The model as text")).to_have_value(typed)
    shown(page, "scoring-editor-text-refused")


def rule_count(page: Any) -> int:
    return int(page.locator(".scoring-rule").count())


def tab_to(page: Any, selector: str, most: int = 80) -> None:
    """Press Tab until the element `selector` has the focus (as a person without a mouse)."""
    target = page.locator(selector)
    for _ in range(most):
        if target.evaluate("node => node === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")
