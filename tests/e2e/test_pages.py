"""The mailing editor and the pages nothing else walks, in Chromium: every template problem
marked at its line and a field inserted at the cursor; the members of a community group and of
a grade's group; Groups, Mailings and Campaigns a page of 50 at a time; the Diagnosis tab naming
people; the reports inside the admin; one timestamp format; and axe-core on every admin page the
app's router knows, so that a new page cannot be missed.

The module's app is seeded as the admin pages' one (conftest.py); this module adds 55 groups,
55 mailings and 55 campaigns, a grade's group of three readers and a subscriber with a
personalization field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from kith.db import Database
from kith.marketing.campaigns.definition import create_campaign
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.scoring.compute import apply_model
from kith.marketing.scoring.grades import grade_group_ids
from kith.marketing.subscriber_import import import_subscribers
from tests.e2e.conftest import MARKETER, Served, sign_in
from tests.e2e.test_see_who import shown
from tests.support.bounce_world import add_readers
from tests.support.import_files import csv_rows

MANY = 55  # more than a page of 50
READERS = ("page1@example.net", "page2@example.net", "page3@example.net")


@pytest.fixture(scope="module")
def seeded(served: Served) -> Iterator[dict[str, int]]:
    """ "Page readers" (3) and their grade's group "Regular"; "Paged group 01".."55", drafts
    "Paged mailing 01".."55" and campaigns "Paged campaign 01".."55"; Fay, whose member_type
    is Fellow. The grade group's id."""
    db = Database(served.settings.marketing_url)
    add_readers(db, READERS, group_name="Page readers")
    now = datetime.now(UTC)
    with db.transaction() as session:
        import_subscribers(
            session,
            csv_rows(
                "email,remote_id,first_name,last_name,status,member_type",
                "fay@example.net,R-FAY,Fay,,,Fellow",
            ),
            now=now,
        )
        for number in range(1, MANY + 1):
            create_group(session, f"Paged group {number:02}", now=now)
            draft = MailingDraft(
                f"Paged mailing {number:02}", "Hello", "<p>Hi</p>", include=["Page readers"]
            )
            create_mailing(session, draft, now=now)
            written = {
                "name": f"Paged campaign {number:02}",
                "activation": {"group": "Page readers", "mode": "over_time"},
                "steps": [{"id": "hello", "mailing": "Paged mailing 01"}],
            }
            create_campaign(session, written, now=now)
        model = {
            "rules": [{"name": "Readers", "group": "Page readers", "points": 10}],
            "grades": [{"grade": "Regular", "min_score": 1}],
        }
        apply_model(session, model, now=now)
        (grade_group,) = grade_group_ids(session).values()
    db.dispose()
    yield {"grade": grade_group}


def marketer(context: Any, served: Served) -> Any:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    return page


def selected_text(page: Any, field: str) -> str:
    """The text selected in the field `field` (an id)."""
    script = "(f) => f.value.slice(f.selectionStart, f.selectionEnd)"
    return str(page.locator(f"#{field}").evaluate(script))


def test_the_editor_marks_every_template_problem_at_its_line_and_inserts_fields(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/mailings/new")
    page.get_by_label("Name", exact=True).fill("Chapter news")
    page.get_by_label("Subject").fill("News for {{ chapter }}")
    body = page.get_by_label("HTML body")
    body.fill("<p>Hello {{ first_name }},</p>\n<p>{{ frist_name }}</p>\n<p>{{ email._x }}</p>")
    page.get_by_label("Page readers").first.check()

    page.get_by_role("button", name="Save").click()

    problems = page.locator("#template-error li")
    expect(problems).to_have_count(3)
    expect(problems.nth(0)).to_contain_text("Subject, line 1, column 13: unknown field 'chapter'")
    expect(problems.nth(1)).to_contain_text("HTML body, line 2, column 7: unknown field")
    expect(problems.nth(2)).to_contain_text("HTML body, line 3, column 13: '_x' is internal")
    gutter = page.locator(".code-editor:has(#html) .gutter span")
    expect(gutter).to_have_text(["1", "2", "3"])
    expect(page.locator(".code-editor:has(#html) .gutter span.bad")).to_have_text(["2", "3"])
    expect(page.locator(".code-editor:has(#html) .line-mark")).to_have_count(2)
    expect(body).to_have_attribute("aria-invalid", "true")
    shown(page, "mailing-editor-problems")

    problems.nth(2).get_by_role("link").click()
    expect(body).to_be_focused()
    assert selected_text(page, "html") == "<p>{{ email._x }}</p>"
    page.get_by_label("Personalization field").select_option("fields.member_type")
    page.get_by_role("button", name="Insert at the cursor").click()
    expect(body).to_have_value(re.compile(r"\n\{\{ fields\.member_type \}\}$"))
    expect(page.locator(".code-editor:has(#html) .gutter span")).to_have_count(3)

    problems.nth(1).get_by_role("link").click()
    page.get_by_label("Personalization field").select_option("first_name")
    page.get_by_role("button", name="Insert at the cursor").click()
    page.get_by_label("Subject").click()
    page.get_by_label("Subject").press("End")
    page.get_by_label("Personalization field").select_option("unsubscribe_url")
    page.get_by_role("button", name="Insert at the cursor").click()
    expect(page.get_by_label("Subject")).to_have_value(
        "News for {{ chapter }}{{ unsubscribe_url }}"
    )
    page.get_by_label("Subject").fill("News for {{ fields.chapter | default('you') }}")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Chapter news")).to_be_visible()
