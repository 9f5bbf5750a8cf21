"""A marketer's sends beyond Send, in Chromium: a test to a few typed addresses, a send
scheduled in the marketer's own time and unscheduled, and a send that leaves out the
recipients a community automation rule also e-mails.

The module's app is seeded as the admin pages' one (conftest.py), plus a static group "Guests"
of one subscriber no community rule reaches. Every page shown is checked with axe-core.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from kith.csvimport.report import ImportReport
from kith.db import Database
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from tests.e2e.conftest import MARKETER, Served, screenshot, sign_in
from tests.e2e.test_safety import answering, integration_settings, serious_violations
from tests.support.import_files import csv_rows

GROUP = "Has Started Discussion Thread"  # the community group of the seed's list
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def guests(served: Served) -> str:
    """The static group "Guests": Gia, guest@example.org, whom no community rule e-mails."""
    marketing = Database(served.settings.marketing_url)
    now = datetime.now(UTC)
    with marketing.transaction() as session:
        row = SubscriberRow(1, "guest@example.org", "G-1", first_name="Gia")
        SubscriberUpsert(session, now=now, source="import").write([row], ImportReport())
        group = create_group(session, "Guests", now=now)
        change_members(session, group, csv_rows("remote_id", "G-1"), now=now)
    marketing.dispose()
    return "Guests"


def new_mailing(served: Served, name: str, include: list[str]) -> None:
    marketing = Database(served.settings.marketing_url)
    draft = MailingDraft(
        name=name,
        subject="Hello {{ first_name | default('friend') }}",
        html="<p>Hello {{ first_name | default('friend') }}, see you at the chapter meeting.</p>",
        include=include,
    )
    with marketing.transaction() as session:
        create_mailing(session, draft, now=datetime.now(UTC))
    marketing.dispose()


def open_mailing(page: Any, served: Served, name: str) -> None:
    sign_in(page, served.url, "marketing", MARKETER)
    page.goto(f"{served.url}/marketing/mailings")
    page.get_by_role("link", name=name).click()


def test_a_test_goes_to_the_typed_addresses_and_the_mailing_stays_a_draft(
    context: Any, served: Served, guests: str
) -> None:
    new_mailing(served, "Chapter meeting", [guests])
    page = context.new_page()
    open_mailing(page, served, "Chapter meeting")
    test = page.get_by_role("region", name="Send a test")

    test.get_by_label("Send to").fill("me@example.net, not-an-address")
    test.get_by_role("button", name="Send test").click()

    expect(test.get_by_role("alert")).to_contain_text(
        "'not-an-address' is not a valid email address"
    )
    expect(test.get_by_label("Send to")).to_have_value("me@example.net, not-an-address")
    screenshot(page, "mailing-test-refused")
    test.get_by_label("Send to").fill("me@example.net, you@example.net")
    test.get_by_role("button", name="Send test").click()

    expect(page.locator("#test-sent")).to_have_text(
        "Test sent to me@example.net, you@example.net, personalized as guest@example.org."
    )
    received = served.sink.wait_for(2)
    assert {message.message["Subject"] for message in received} == {"[Test] Hello Gia"}
    assert sorted(message.recipients[0] for message in received) == [
        "me@example.net",
        "you@example.net",
    ]
    facts = page.get_by_role("region", name="The mailing")
    expect(facts.locator("dd").first).to_have_text("draft")
    assert serious_violations(page) == []
    screenshot(page, "mailing-test-sent")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "mailing-test-sent-phone")
    page.reload()  # shows the outcome again, sends nothing
    expect(page.locator("#test-sent")).to_be_visible()
    assert len(served.sink.messages) == 2


def test_a_send_is_scheduled_in_the_marketers_time_shown_in_utc_and_unscheduled(
    browser: Any, served: Served, guests: str
) -> None:
    new_mailing(served, "Chapter agenda", [guests])
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=PARIS.key)
    page = context.new_page()
    open_mailing(page, served, "Chapter agenda")
    send = page.get_by_role("region", name="Send", exact=True)
    expect(send).to_contain_text("your time, Europe/Paris")
    past = datetime.now(PARIS) - timedelta(hours=1)
    tomorrow = (datetime.now(PARIS) + timedelta(days=1)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )

    send.get_by_label(re.compile("Or send at")).fill(f"{past:%Y-%m-%dT%H:%M}")
    send.get_by_role("button", name="Schedule").click()
    expect(send.get_by_role("alert")).to_contain_text("is in the past")
    send.get_by_label(re.compile("Or send at")).fill(f"{tomorrow:%Y-%m-%dT%H:%M}")
    send.get_by_role("button", name="Schedule").click()

    in_utc = tomorrow.astimezone(UTC)
    expect(page.locator("#scheduled-for")).to_contain_text(
        f"Scheduled for {in_utc:%Y-%m-%d %H:%M} UTC ({tomorrow:%Y-%m-%d %H:%M} your time)."
    )
    expect(page.get_by_role("region", name="The mailing").locator("dd").first).to_have_text(
        "scheduled"
    )
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    assert serious_violations(page) == []
    screenshot(page, "mailing-scheduled")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "mailing-scheduled-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{served.url}/marketing/mailings")
    expect(page.locator("tr", has_text="Chapter agenda")).to_contain_text(
        f"scheduled for {in_utc:%Y-%m-%d %H:%M} UTC"
    )
    page.get_by_role("link", name="Chapter agenda").click()
    page.get_by_role("button", name="Unschedule").click()

    expect(page.get_by_role("region", name="The mailing").locator("dd").first).to_have_text("draft")
    expect(page.get_by_role("link", name="Edit", exact=True)).to_be_visible()
    context.close()


def test_leave_them_out_sends_to_the_others_and_the_people_page_says_why(
    context: Any, served: Served, guests: str
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    integration_settings(page, served, password=served.password)
    page.goto(f"{served.url}/marketing/groups?folder=Online Community")
    page.get_by_role("button", name="Refresh Target Group List").click()
    expect(page.locator("#groups").get_by_role("link", name=GROUP)).to_be_visible()
    new_mailing(served, "Chapter news", [GROUP, guests])
    page.goto(f"{served.url}/marketing/mailings")
    page.get_by_role("link", name="Chapter news").click()
    sent_before = len(served.sink.messages)
    answering(page, accept=True)
    page.get_by_role("button", name="Send", exact=True).click()
    warning = page.locator("#duplicate-warning")
    expect(warning).to_contain_text("Welcome to the discussion", timeout=30_000)
    assert serious_violations(page) == []
    screenshot(page, "mailing-leave-them-out")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "mailing-leave-them-out-phone")

    asked = answering(page, accept=True)
    page.get_by_role("button", name="Leave them out of this send").click()

    expect(page.locator("#mailing-status")).to_contain_text("Sent", timeout=30_000)
    assert asked and "everyone except the recipients" in asked[0]
    received = served.sink.wait_for(sent_before + 1)[sent_before:]
    assert [message.recipients[0] for message in received] == ["guest@example.org"]
    page.get_by_role("link", name="See each delivery and its outcome").click()
    left_out = page.locator("tr", has_text="member1@example.org")
    expect(left_out).to_contain_text("skipped")
    expect(left_out).to_contain_text(
        "left out of this send: the community rule 'Welcome to the discussion' also e-mails them"
    )
    expect(page.locator("#people-count")).to_have_text("1 delivery, 5 left out of the send")
    assert serious_violations(page) == []
    screenshot(page, "mailing-people-left-out")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "mailing-people-left-out-wide")
