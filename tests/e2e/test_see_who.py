"""Seeing who is in everything, in Chromium: a group's members (paged, searched) down to a
subscriber's page with their mailings, opens and clicks; a mailing's recipients before its send
and its deliveries after. Every page is shown at 1280 px and 390 px and checked with axe-core.

The module's app is seeded as the admin pages' one (conftest.py); this module adds a static
group of 55 readers, a mailing sent to them through the SMTP sink and a draft to them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from kith.db import Database
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.tracking import record_event
from tests.e2e.conftest import MARKETER, Served, screenshot, sign_in
from tests.support.bounce_world import add_readers, send_to_readers

READERS = tuple(f"reader{number:02}@example.net" for number in range(1, 56))


@pytest.fixture(scope="module")
def readers(served: Served) -> Iterator[dict[str, int]]:
    """The group "Readers" of 55, a sent mailing "Reader news" (reader07 opened and clicked it)
    and a draft "Reader digest"; their ids by name."""
    db = Database(served.settings.marketing_url)
    add_readers(db, READERS, group_name="Readers")
    sent = send_to_readers(db, served.settings, served.sink, name="Reader news")
    now = datetime.now(UTC)
    with db.transaction() as session:
        for kind in ("open", "click"):
            record_event(session, sent.deliveries["reader07@example.net"], kind, now=now)
        draft = MailingDraft(
            name="Reader digest", subject="Digest", html="<p>Hi</p>", include=["Readers"]
        )
        digest = create_mailing(session, draft, now=now).id
    db.dispose()
    yield {"news": sent.mailing_id, "digest": digest}


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page, by rule and element."""
    found = Axe().run(page).response["violations"]
    return [
        f"{violation['id']}: {node['target']}"
        for violation in found
        if violation["impact"] in ("serious", "critical")
        for node in violation["nodes"]
    ]


def shown(page: Any, name: str) -> None:
    """The page passes axe-core, and is kept as a screenshot at a laptop's and a phone's width,
    where nothing scrolls the page sideways."""
    assert serious_violations(page) == [], name
    screenshot(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
    screenshot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_groups_members_lead_to_a_subscriber_and_what_they_received(
    context: Any, served: Served, readers: dict[str, int]
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    page.goto(f"{served.url}/marketing/groups")
    page.get_by_role("link", name="Readers", exact=True).click()
    page.get_by_role("link", name="See who is in the group").click()

    expect(page.locator("#people-count")).to_have_text("55 subscribers")
    expect(page.locator("#people tbody tr")).to_have_count(50)
    shown(page, "group-members")
    page.get_by_role("link", name="Next").click()
    expect(page.locator("#people tbody tr")).to_have_count(5)
    page.get_by_label("Email, Remote ID or name").fill("reader07")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#people tbody tr")).to_have_count(1)
    page.get_by_role("link", name="reader07@example.net").click()

    received = page.locator("#mailings-received")
    expect(received).to_contain_text("Reader news")
    expect(received.locator("tbody tr").first.locator("td")).to_have_text(
        ["Reader news", "sent", re.compile(r"\d{4}-\d\d-\d\d"), "1", "1"]
    )
    shown(page, "subscriber-activity")


def test_a_mailing_shows_its_recipients_before_the_send_and_its_deliveries_after(
    context: Any, served: Served, readers: dict[str, int]
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    page.goto(f"{served.url}/marketing/mailings/{readers['digest']}")
    page.get_by_role("link", name="See who the send would reach").click()

    expect(page.locator("#people-count")).to_have_text("55 subscribers")
    shown(page, "mailing-recipients")

    page.goto(f"{served.url}/marketing/mailings/{readers['news']}")
    page.get_by_role("link", name="See each delivery and its outcome").click()
    expect(page.locator("#people-count")).to_have_text("55 deliveries")
    page.get_by_label("Email").fill("reader07")
    page.get_by_role("button", name="Search").click()
    row = page.locator("#deliveries tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("reader07@example.net")
    expect(row).to_contain_text("sent")
    shown(page, "mailing-deliveries")


def test_groups_mailings_and_campaigns_are_searched_by_name(
    context: Any, served: Served, readers: dict[str, int]
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)

    page.goto(f"{served.url}/marketing/groups")
    page.get_by_label("Name").fill("read")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#groups tbody tr")).to_have_count(1)
    expect(page.locator("#groups")).to_contain_text("Readers")
    shown(page, "groups-searched")

    page.goto(f"{served.url}/marketing/mailings")
    page.get_by_label("Name or subject").fill("reader")
    page.get_by_label("Status").select_option("sent")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#mailing-count")).to_have_text("1 mailing")
    expect(page.get_by_role("link", name="Reader news")).to_be_visible()
    shown(page, "mailings-searched")

    page.goto(f"{served.url}/marketing/campaigns?q=nothing+like+this")
    expect(page.locator("#campaign-count")).to_have_text("0 campaigns")
    shown(page, "campaigns-searched")
