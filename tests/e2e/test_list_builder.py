"""List Builder as a community manager meets it, in Chromium: activity found by plain words and
chosen by tick boxes, a count that says 0 rather than nothing, problems in words, dates in the
admin's one form, and a warning when a saved list will not reach marketing.

The module's app is seeded as the admin pages' one (conftest.py): six members started a thread,
three of them replied, and one more (no Legacy Contact Key) started a thread. Every page shown
is checked with axe-core at 1280 px and 390 px.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import SUPER_ADMIN, Served, sign_in
from tests.e2e.test_see_who import shown

ADMIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$")


def new_list(context: Any, served: Served) -> Any:
    page = context.new_page()
    sign_in(page, served.url, "community", SUPER_ADMIN)
    page.goto(f"{served.url}/community/lists/new")
    return page


def add_criterion(page: Any, search: str, choice: str) -> None:
    page.locator(".criteria-group > details.picker").last.locator("summary").click()
    page.get_by_label("Find a criterion").last.fill(search)
    page.get_by_role("button", name=choice).click()


def test_posts_are_found_by_plain_words_and_several_types_are_ticked_from_the_keyboard(
    context: Any, served: Served
) -> None:
    page = new_list(context, served)
    expect(page.locator("#preview-count")).to_have_text("0")

    page.locator("details.picker summary").click()
    page.get_by_label("Find a criterion").fill("Post")
    offered = page.locator("details.picker li")
    expect(offered).to_have_count(2)
    expect(offered.nth(0)).to_contain_text("Activity: discussion reply")
    expect(offered.nth(1)).to_contain_text("Activity: thread started")
    shown(page, "list-builder-search")
    offered.nth(0).get_by_role("button").click()
    expect(page.locator("#preview-count")).to_have_text("3")

    started = page.get_by_role("checkbox", name="thread started")
    started.focus()
    page.keyboard.press("Space")
    expect(started).to_be_checked()
    expect(page.get_by_role("checkbox", name="discussion reply")).to_be_checked()
    expect(page.locator("#preview-count")).to_have_text("7")
    since = page.get_by_label("Since (YYYY-MM-DD)")
    expect(since).to_have_attribute("placeholder", "YYYY-MM-DD")
    since.fill("2026-03-01")
    expect(since).to_have_value("2026-03-01")
    since.fill("")
    shown(page, "list-builder-types")

    page.get_by_label("At least (times)").fill("50")
    expect(page.locator("#preview-count")).to_have_text("0")
    expect(page.locator("#list-preview")).to_contain_text("0 members match now.")
    expect(page.locator("#list-preview")).not_to_contain_text("null")
    shown(page, "list-builder-nobody")


def test_a_list_not_for_marketing_saves_with_a_warning_after_problems_in_words(
    context: Any, served: Served
) -> None:
    page = new_list(context, served)
    page.get_by_label("Name", exact=True).fill("Infromz Thread Starters")
    add_criterion(page, "thread", "Activity: thread started")
    add_criterion(page, "group", "Group of criteria (AND / OR)")
    alert = page.locator(".alert.error").first
    expect(alert).to_have_text(
        "Criterion 2: this group is empty: add a criterion to it or remove it."
    )
    page.get_by_role("button", name="Save list").click()

    expect(page.get_by_role("alert")).to_have_text(
        "Criterion 2: this group is empty: add a criterion to it or remove it."
    )
    expect(page.locator("main")).not_to_contain_text("criteria.all")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Infromz Thread Starters")
    shown(page, "list-builder-error")
    page.get_by_role("button", name="Remove this group").click()
    page.get_by_role("button", name="Save list").click()

    warning = page.locator(".alert.warning")
    expect(warning).to_contain_text("“Infromz Thread Starters” will not reach marketing")
    expect(warning).to_contain_text("looks like a misspelling of Informz")
    row = page.locator("#lists tr", has_text="Infromz Thread Starters")
    expect(row).to_contain_text("community only")
    expect(row).to_contain_text("7")
    expect(page.locator("#lists tr", has_text="Has Started Discussion Thread")).not_to_contain_text(
        "community only"
    )
    for updated in page.locator("#lists td[data-label=Updated]").all_inner_texts():
        assert ADMIN_DATE.match(updated), updated
    shown(page, "list-builder-warning")
