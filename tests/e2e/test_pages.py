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
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from playwright.sync_api import expect
from sqlalchemy import select
from starlette.routing import Mount

from kith.app import assemble_app
from kith.community.models import AutomationRule, CustomUserList, Member
from kith.db import Database
from kith.marketing.campaigns.definition import create_campaign
from kith.marketing.campaigns.models import Campaign
from kith.marketing.groups.compound import Section, define_compound
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.models import Subscriber, SyncRun, TargetGroup
from kith.marketing.scoring.compute import apply_model
from kith.marketing.scoring.grades import grade_group_ids
from kith.marketing.subscriber_import import import_subscribers
from kith.web.site import PageRoute
from tests.e2e.conftest import MARKETER, SUPER_ADMIN, Served, sign_in
from tests.e2e.test_safety import integration_settings
from tests.e2e.test_see_who import serious_violations, shown
from tests.e2e.test_tidy import sync_posters
from tests.support.bounce_world import add_readers
from tests.support.import_files import csv_rows

MANY = 55  # more than a page of 50
READERS = ("page1@example.net", "page2@example.net", "page3@example.net")


@pytest.fixture(scope="module")
def seeded(served: Served) -> Iterator[dict[str, int]]:
    """ "Page readers" (3) and their grade's group "Regular"; "Paged group 01".."55", drafts
    "Paged mailing 01".."55" and campaigns "Paged campaign 01".."55"; Fay, whose member_type
    is Fellow. The ids of the grade's group, the compound "Page compound" (of the readers) and
    "Paged mailing 01"."""
    db = Database(served.settings.marketing_url)
    add_readers(db, READERS, group_name="Page readers")
    now = datetime.now(UTC)
    mailings = []
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
            mailings.append(create_mailing(session, draft, now=now).id)
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
        readers = session.scalars(select(TargetGroup).where(TargetGroup.name == "Page readers"))
        compound = create_group(session, "Page compound", now=now, kind="compound")
        define_compound(session, compound, Section(tuple(readers), "any"), None)
        compound_id = compound.id
    db.dispose()
    yield {"grade": grade_group, "compound": compound_id, "mailing": mailings[0]}


@pytest.fixture(scope="module")
def posters(browser: Any, served: Served, seeded: dict[str, int]) -> Iterator[int]:
    """The community group "Has Started Discussion Thread", refreshed in and synced through the
    pages (five members; nokey and member6 left out); its id."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = marketer(context, served)
    integration_settings(page, served, password=served.password)
    page.goto(f"{served.url}/marketing/groups?folder=Online Community")
    page.get_by_role("button", name="Refresh Target Group List").click()
    expect(page.locator("#refresh-report")).to_contain_text("Added Has Started Discussion Thread")
    sync_posters(page, served)
    expect(page.locator("#sync-result")).to_contain_text("5 members in the group", timeout=30_000)
    found = re.search(r"/groups/(\d+)", page.url)
    assert found, page.url
    context.close()
    yield int(found[1])


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


def test_a_community_groups_and_a_grades_members_are_listed_with_their_status(
    context: Any, served: Served, seeded: dict[str, int], posters: int
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/groups/{posters}")
    page.get_by_role("link", name="See who is in the group").click()

    expect(page.locator("#people-count")).to_have_text("5 subscribers")
    rows = page.locator("#people tbody tr")
    expect(rows.filter(has_text="member1@example.org")).to_contain_text("subscribed")
    shown(page, "community-group-members")

    page.goto(f"{served.url}/marketing/groups/{seeded['grade']}")
    page.get_by_role("link", name="See who is in the group").click()
    expect(page.locator("#people-count")).to_have_text("3 subscribers")
    expect(rows).to_contain_text(list(READERS))
    shown(page, "grade-group-members")


def test_the_diagnosis_tab_names_who_the_sync_left_out_by_email_not_only_key(
    context: Any, served: Served, posters: int
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/groups/{posters}")

    page.get_by_role("link", name="Diagnosis").click()

    findings = page.locator("#findings")
    expect(findings).to_contain_text("e.g. nokey (nokey@example.org)")
    expect(findings).to_contain_text("e.g. m6 (member6@example.org)")
    shown(page, "group-diagnosis")


@pytest.mark.parametrize(
    ("path", "names", "prefix"),
    [
        ("groups", "#groups td[data-label=Name] a", "Paged group"),
        ("mailings", "table.stack td[data-label=Mailing] a", "Paged mailing"),
        ("campaigns", "table.stack td[data-label=Campaign] a", "Paged campaign"),
    ],
)
def test_a_list_of_more_than_50_is_shown_a_page_at_a_time(
    context: Any, served: Served, seeded: dict[str, int], path: str, names: str, prefix: str
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/{path}")
    pager = page.get_by_role("navigation", name="Pages")
    expect(pager).to_contain_text("Page 1 of 2")
    expect(page.locator(names)).to_have_count(50)
    first = page.locator(names).all_inner_texts()

    pager.get_by_role("link", name="Next").click()

    expect(pager).to_contain_text("Page 2 of 2")
    second = page.locator(names).all_inner_texts()
    paged = sorted(name for name in first + second if name.startswith(prefix))
    assert paged == [f"{prefix} {number:02}" for number in range(1, MANY + 1)]
    pager.get_by_role("link", name="Previous").click()
    expect(pager).to_contain_text("Page 1 of 2")


# the words of every visible table header that the browser broke across lines
BROKEN_HEADER_WORDS = """() => [...document.querySelectorAll("th")].filter((th) => th.offsetParent)
  .flatMap((th) => {
    const broken = [];
    const texts = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let text = texts.nextNode(); text; text = texts.nextNode()) {
      for (const word of text.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(text, word.index);
        range.setEnd(text, word.index + word[0].length);
        if (range.getClientRects().length > 1) broken.push(word[0]);
      }
    }
    return broken;
  })"""


def headers_whole(page: Any) -> None:
    """No table header is broken mid-word, at a laptop's width or a phone's."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for summary in page.locator("details > summary").all():
            summary.click()  # the data tables are folded
        assert page.evaluate(BROKEN_HEADER_WORDS) == [], f"{page.url} at {width} px"
        for summary in page.locator("details > summary").all():
            summary.click()
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("report", ["Community activity", "Syncs", "Paged mailing 01"])
def test_a_report_is_a_page_of_the_admin_with_its_menu_trail_and_way_back(
    context: Any, served: Served, seeded: dict[str, int], posters: int, report: str
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/reports")
    if report.startswith("Paged"):
        page.goto(f"{served.url}/marketing/reports/mailings/{seeded['mailing']}")
    else:
        page.get_by_role("form", name=report).get_by_role("button", name="Show report").click()

    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    trail = page.get_by_role("navigation", name="Breadcrumb")
    expect(trail.get_by_role("link", name="Reports")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()
    headers_whole(page)
    shown(page, f"report-{report.lower().replace(' ', '-')}")
    csv_link = page.get_by_role("link", name="Download as CSV").get_attribute("href")
    csv = page.request.get(f"{served.url}{csv_link}")
    assert csv.headers["content-type"].startswith("text/csv")

    page.get_by_role("link", name="Back to Reports").click()
    expect(page).to_have_url(f"{served.url}/marketing/reports")


# GET routes of the admin answered with data or a file, not a page (the test checks they are)
NOT_PAGES = frozenset(
    {
        "/community/members/{member_id}/data",
        "/marketing/compound-groups/count",
        "/marketing/groups/{group_id}/rejected.csv",
        "/marketing/groups/{group_id}/runs/{run_id}",
        "/marketing/mailings/{mailing_id}/status",
        "/marketing/subscribers/{subscriber_id}/data",
    }
)
# what a page needs besides its path
QUERIES = {"/marketing/campaigns/{campaign_id}/people": "?step=hello"}
# a date and time as the pages write it: in UTC, or in the browser's zone after it
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d\S*(?: \S+)?")
ONE_FORMAT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d (?:UTC|your)\b")


def admin_routes(served: Served) -> list[str]:
    """The path of every GET route of both sides' web admin, as the app's router has them (the
    sign-in and sign-out last: they are the pages that may end the visit)."""
    app = assemble_app(served.settings)
    paths = [
        mounted.path + route.path
        for mounted in app.routes
        if isinstance(mounted, Mount) and isinstance(mounted.app, FastAPI)
        for route in iter_route_contexts(mounted.app.routes)
        if isinstance(route.original_route, PageRoute) and "GET" in (route.methods or ())
    ]
    return sorted(paths, key=lambda path: "/sign-" in path)


def path_ids(served: Served, seeded: dict[str, int], posters: int) -> dict[str, str]:
    """A value for each path parameter, from this module's data."""
    community, marketing = (
        Database(served.settings.community_url),
        Database(served.settings.marketing_url),
    )
    with community.session() as session:
        ids = {
            "member_id": session.scalar(select(Member.id).where(Member.email == SUPER_ADMIN)),
            "key": session.scalar(select(CustomUserList.list_key).limit(1)),
            "rule_key": session.scalar(select(AutomationRule.rule_key).limit(1)),
            "iam_key": served.iam_key,
        }
    with marketing.session() as session:
        ids |= {
            "group_id": posters,
            "run_id": session.scalar(select(SyncRun.id).where(SyncRun.group_id == posters)),
            "subscriber_id": session.scalar(
                select(Subscriber.id).where(Subscriber.email == "member1@example.org")
            ),
            "mailing_id": seeded["mailing"],
            "campaign_id": session.scalar(select(Campaign.id).limit(1)),
        }
    community.dispose()
    marketing.dispose()
    return {name: str(value) for name, value in ids.items()}


def filled(path: str, ids: dict[str, str], seeded: dict[str, int]) -> str:
    """`path` with its parameters filled: a rule's key for the rules' pages, the compound group
    for the compound editor."""
    if path.startswith("/community/rules/"):
        path = path.replace("{key}", ids["rule_key"])
    if path.endswith("/compound"):
        path = path.replace("{group_id}", str(seeded["compound"]))
    return re.sub(r"\{(\w+)\}", lambda name: ids[name[1]], path) + QUERIES.get(path, "")


def test_every_admin_page_passes_axe_core_and_writes_times_one_way(
    context: Any, served: Served, seeded: dict[str, int], posters: int
) -> None:
    page = marketer(context, served)
    sign_in(page, served.url, "community", SUPER_ADMIN)
    ids = path_ids(served, seeded, posters)
    routes = admin_routes(served)
    not_pages, checked, violations, timestamps = set(), set(), {}, set()

    for path in routes:
        url = served.url + filled(path, ids, seeded)
        answer = page.request.get(url)
        assert answer.status < 400, f"{path}: {answer.status}"
        if not answer.headers["content-type"].startswith("text/html"):
            not_pages.add(path)
            continue
        page.goto(url)
        landed = page.url.split("?")[0]
        if landed in checked:  # the GET of a form's action, which shows the form's page
            continue
        checked.add(landed)
        if found := serious_violations(page):
            violations[landed] = found
        timestamps.update(TIMESTAMP.findall(page.locator("body").inner_text()))

    assert not_pages == NOT_PAGES
    # the walk found both sides' pages and the connection's (which create_app adds)
    assert {"/community/lists", "/marketing/mailings/new", "/marketing/diagnose"} <= set(routes)
    assert len(checked) > 40
    assert violations == {}
    assert timestamps, "no page showed a time"
    assert [stamp for stamp in timestamps if not ONE_FORMAT.match(stamp)] == []
