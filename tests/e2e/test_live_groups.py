"""A live community group in Chromium: its Info says "Live" and what the live pass last applied
(a member's first thread reaching the group while `kith serve` runs), and its switch turns it
to manual and back, each a POST with its CSRF token answered by a redirect to Info."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import delete, func, select

from kith.community.models import Member
from kith.connection.client import client_for
from kith.connection.drift import check_drift
from kith.connection.refresh import refresh_groups
from kith.connection.runs import SyncRuns
from kith.csvimport.report import ImportReport
from kith.db import Database
from kith.encryption import SecretBox
from kith.marketing.groups.target_groups import get_group
from kith.marketing.integration import configure_integration
from kith.marketing.models import GroupMember
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from tests.e2e.conftest import MARKETER, Served, screenshot, sign_in
from tests.support.community_world import add_events, add_member

GROUP = "Has Started Discussion Thread"
A_DAY_ON = timedelta(hours=25)  # past the drift check's period since the group's full sync
LIVE_PASSES = 60  # seconds: the list pass (5), then the live pass (10), with room to spare


@pytest.fixture(scope="module")
def group_id(served: Served) -> Iterator[int]:
    """The connection Active and the group synced in full once: it is live from then on."""
    now = datetime.now(UTC)
    marketing = Database(served.settings.marketing_url)
    box = SecretBox.from_settings(served.settings)
    with marketing.transaction() as session:
        configure_integration(
            session,
            box=box,
            now=now,
            url=f"{served.url}/community",
            iam_key=served.iam_key,
            password=served.password,
            active=True,
        )
    with marketing.transaction() as session, client_for(session, box) as client:
        refresh_groups(session, client, now=now)
    with marketing.session() as session:
        found = get_group(session, GROUP).id
    run = SyncRuns(marketing, served.settings).here(found, trigger="manual", now=now)
    assert run.status == "completed", run.error
    yield found
    marketing.dispose()


def a_member_starts_a_thread(served: Served) -> None:
    """A new member with a subscriber posts a first thread: the list takes them in."""
    now = datetime.now(UTC)
    marketing = Database(served.settings.marketing_url)
    with marketing.transaction() as session:
        row = SubscriberRow(2, "member7@example.org", "R-7", first_name="Member7")
        SubscriberUpsert(session, now=now, source="import").write([row], ImportReport())
    marketing.dispose()
    community = Database(served.settings.community_url)
    with community.transaction() as session:
        member: Member = add_member(
            session, "m7", email="member7@example.org", legacy_contact_key="R-7"
        )
        add_events(session, member, "thread_started", now)
    community.dispose()


def accessible(page: Any) -> None:
    """axe-core finds no violation on the page as it stands."""
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def info(page: Any, served: Served, group_id: int) -> None:
    page.goto(f"{served.url}/marketing/groups/{group_id}")
    expect(page.get_by_role("heading", name=f"Info: {GROUP}")).to_be_visible()


def test_info_says_live_and_when_the_live_pass_last_applied_a_change(
    context: Any, served: Served, group_id: int
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    info(page, served, group_id)
    expect(page.locator("#live-state")).to_contain_text("Live")
    expect(page.locator("#last-change")).to_have_text("none yet")

    a_member_starts_a_thread(served)

    deadline = time.monotonic() + LIVE_PASSES
    while "1 added" not in page.locator("#last-change").inner_text():
        assert time.monotonic() < deadline, page.locator("#last-change").inner_text()
        time.sleep(1)
        page.reload()
    expect(page.locator("#last-change")).to_contain_text("1 added, 0 removed")
    expect(page.locator("#member-count")).to_have_text("6")
    expect(page.locator("#live-state")).not_to_contain_text("paused")
    screenshot(page, "group-info-live")
    accessible(page)


def test_the_switch_turns_the_group_to_manual_and_back_to_live(
    context: Any, served: Served, group_id: int
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    info(page, served, group_id)

    page.get_by_role("button", name="Switch to manual").click()

    expect(page).to_have_url(re.compile(rf"/marketing/groups/{group_id}$"))
    expect(page.locator("#live-state")).to_contain_text("Manual")
    expect(page.get_by_role("button", name="Switch to live")).to_be_visible()
    screenshot(page, "group-info-manual")
    accessible(page)
    page.goto(f"{served.url}/marketing/groups?folder=Online Community")
    row = page.locator("#groups tr", has=page.get_by_role("link", name=GROUP))
    expect(row.locator(".badge")).to_have_text("manual")

    info(page, served, group_id)
    page.get_by_role("button", name="Switch to live").click()

    expect(page.locator("#live-state")).to_contain_text("Live")
    expect(page.get_by_role("button", name="Switch to manual")).to_be_visible()


def test_the_switch_refuses_a_post_without_its_csrf_token(
    context: Any, served: Served, group_id: int
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)

    response = page.request.post(
        f"{served.url}/marketing/groups/{group_id}/live", form={"live": "off"}, max_redirects=0
    )

    assert response.status == 403
    info(page, served, group_id)
    expect(page.locator("#live-state")).to_contain_text("Live")


def test_history_shows_the_drift_a_drift_check_found_and_repaired(
    context: Any, served: Served, group_id: int
) -> None:
    marketing = Database(served.settings.marketing_url)
    in_group = GroupMember.group_id == group_id
    with marketing.transaction() as session:  # a member lost behind the live pass's back
        lost = session.scalar(select(func.min(GroupMember.subscriber_id)).where(in_group))
        session.execute(delete(GroupMember).where(in_group, GroupMember.subscriber_id == lost))
    [check] = check_drift(marketing, served.settings, now=datetime.now(UTC) + A_DAY_ON)
    marketing.dispose()
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)

    page.goto(f"{served.url}/marketing/groups/{group_id}?tab=history")

    first = page.locator("tbody tr").first
    expect(first.locator("[data-label=Trigger]")).to_have_text("drift")
    expect(first.locator("[data-label=Status]")).to_have_text("completed drift 1")
    expect(page.get_by_role("link", name="Overview")).to_be_visible()
    assert (check.drift, check.added) == (1, 1)
    screenshot(page, "group-history-drift")
    accessible(page)
