"""A marketer's and a community manager's first session, in Chromium, in the seed's words.

The tests follow one another as that session does (the module's app keeps what each did):
sign in; Integration Settings and Test connection; Refresh Target Group List; Info and Sync
Target Group Now; List Builder; a mailing to the SMTP sink; its report. Then what must never
happen: script in names running, a POST without its CSRF token, a member on admin pages.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import (
    MARKETER,
    MEMBER,
    SCRIPT,
    SUPER_ADMIN,
    Served,
    screenshot,
    sign_in,
)

ONLINE_COMMUNITY = "Online Community"
GROUP = "Has Started Discussion Thread"


def marketing(page: Any, served: Served) -> None:
    sign_in(page, served.url, "marketing", MARKETER)


def test_sign_in_opens_the_marketing_pages(context: Any, served: Served) -> None:
    page = context.new_page()
    page.goto(f"{served.url}/marketing/groups")
    expect(page).to_have_url(re.compile(r"/marketing/sign-in\?next="))
    screenshot(page, "sign-in")

    page.get_by_label("Email").fill(MARKETER)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{served.url}/marketing/groups")
    expect(page.get_by_role("heading", name="Groups")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Integration Settings")


def test_integration_settings_are_updated_and_the_connection_tested(
    context: Any, served: Served
) -> None:
    page = context.new_page()
    marketing(page, served)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Integration Settings"
    ).click()
    page.get_by_role("link", name="Edit Integration Settings").click()
    page.get_by_label("Active").check()
    page.get_by_label("Community API URL").fill(f"{served.url}/community")
    page.get_by_label("IAMKey").fill(served.iam_key)
    page.get_by_label("Password").fill(served.password)
    page.get_by_role("button", name="Update").click()
    expect(page.locator("main .alert").first).to_have_text(
        "The Integration Settings are updated, and the connection works."
    )

    page.get_by_role("button", name="Test connection").click()

    expect(page.locator("#connection-check")).to_contain_text(
        f"Connected: the community at {served.url}/community answered with 2 Custom User Lists"
    )
    screenshot(page, "integration-settings")


def test_refresh_target_group_list_brings_the_informz_lists_into_online_community(
    context: Any, served: Served
) -> None:
    page = context.new_page()
    marketing(page, served)
    page.goto(f"{served.url}/marketing/groups")
    page.get_by_label("Folder").select_option(ONLINE_COMMUNITY)
    page.get_by_role("button", name="Show").click()

    page.get_by_role("button", name="Refresh Target Group List").click()

    expect(page.locator("#refresh-report")).to_contain_text(f"Added {GROUP}")
    table = page.locator("#groups")
    expect(table.get_by_role("link", name=GROUP)).to_be_visible()
    expect(page.get_by_label("Folder")).to_have_value(ONLINE_COMMUNITY)
    expect(page.get_by_role("button", name="Refresh", exact=True)).to_be_visible()
    screenshot(page, "groups")


def test_info_then_sync_target_group_now_shows_progress_then_the_counts(
    context: Any, served: Served
) -> None:
    page = context.new_page()
    marketing(page, served)
    page.goto(f"{served.url}/marketing/groups?folder={ONLINE_COMMUNITY}")
    page.get_by_label(f"Menu for {GROUP}").click()
    page.get_by_role("link", name="Info", exact=True).click()
    expect(page.get_by_role("heading", name=f"Info: {GROUP}")).to_be_visible()
    result = page.locator("#sync-result")
    expect(page.locator("#member-count")).to_have_text("0")
    expect(page.locator("#community-list")).to_have_text(f"Informz {GROUP}")
    expect(page.locator("#last-synced")).to_have_text("never")

    page.get_by_role("button", name="Sync Target Group Now").click()

    expect(result).to_contain_text("Sync in progress")
    expect(result).to_contain_text("Synced: 7 in the list, 5 members in the group", timeout=30_000)
    expect(page.locator("#member-count")).to_have_text("5")  # the Overview, without a reload
    expect(page.locator("#last-synced")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d"))
    expect(result.locator("tr[data-reason=missing_contact_key]")).to_contain_text("1")
    expect(result.locator("tr[data-reason=unsubscribed]")).to_contain_text("1")
    screenshot(page, "group-info")
    page.reload()
    expect(page.get_by_role("button", name="Resync Now")).to_be_visible()
    expect(page.locator("#member-count")).to_have_text("5")


def test_a_list_built_in_list_builder_appears_as_a_group_after_a_refresh(
    context: Any, served: Served
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "community", SUPER_ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("List Builder")
    ).click()
    page.get_by_role("link", name="New Custom User List").click()
    page.get_by_label("Name", exact=True).fill("Informz Replied To A Discussion")
    page.get_by_text("Add criterion").click()
    page.get_by_label("Find a criterion").fill("reply")
    page.get_by_role("button", name="Activity: discussion reply").click()

    expect(page.locator("#preview-count")).to_have_text("3")
    expect(page.locator("#preview-sample li")).to_have_count(3)
    screenshot(page, "list-builder")
    page.get_by_role("button", name="Save list").click()
    lists = page.locator("#lists")
    expect(lists).to_contain_text("Informz Replied To A Discussion")
    expect(lists.locator("tr", has_text="Replied To A Discussion")).to_contain_text("3")

    marketer = context.new_page()
    marketing(marketer, served)
    marketer.goto(f"{served.url}/marketing/groups?folder={ONLINE_COMMUNITY}")
    expect(marketer.locator("#groups")).not_to_contain_text("Replied To A Discussion")
    marketer.get_by_role("button", name="Refresh", exact=True).click()
    expect(
        marketer.locator("#groups").get_by_role("link", name="Replied To A Discussion")
    ).to_be_visible()


def test_a_mailing_is_previewed_acknowledged_and_sent_to_the_smtp_sink(
    context: Any, served: Served
) -> None:
    page = context.new_page()
    marketing(page, served)
    page.goto(f"{served.url}/marketing/mailings/new")
    page.get_by_label("Name", exact=True).fill("Thanks for posting")
    page.get_by_label("Subject").fill("Thanks, {{ first_name | default('friend') }}!")
    page.get_by_label("HTML body").fill("<p>Hello {{ first_name }}, thanks for your thread.</p>")
    page.get_by_role("group", name="Send to (Include)").get_by_label(GROUP).check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#recipient-count")).to_have_text("5")
    page.get_by_label("Email or Remote ID").fill("R-2")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-subject")).to_have_text("Thanks, Member2!")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send", exact=True).click()

    warning = page.locator("#duplicate-warning")
    expect(warning).to_contain_text("Welcome to the discussion", timeout=30_000)
    expect(warning).to_contain_text(
        "the community rule 'Welcome to the discussion' (it e-mails 'Thanks for starting a "
        "thread') also reaches 5 of the recipients: member1@example.org, member2@example.org, "
        "member3@example.org and 2 more."
    )
    said_twice = re.compile("risk.*duplicate mailing risk", re.IGNORECASE)
    expect(page.locator("main")).not_to_contain_text(said_twice)
    expect(page.locator("main")).not_to_contain_text("--ack-duplicates")
    screenshot(page, "mailing-duplicate-warning")
    page.get_by_label(re.compile("send anyway")).check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send anyway").click()
    expect(page.locator("#mailing-status")).to_contain_text("Sent", timeout=30_000)
    received = served.sink.wait_for(5)
    assert {message.message["To"] for message in received} == {
        f"member{number}@example.org" for number in range(1, 6)
    }
    assert {message.message["Subject"] for message in received} >= {"Thanks, Member1!"}
    screenshot(page, "mailing")


def test_the_mailing_report_has_its_chart(context: Any, served: Served) -> None:
    page = context.new_page()
    marketing(page, served)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()

    page.get_by_role("link", name="Thanks for posting").click()

    chart = page.locator("svg.chart").first
    expect(chart).to_be_visible()
    # community members all (they have Remote IDs), inactive as the community report says of
    # them: this app never pulled their activity
    sent = chart.locator("g.series[data-series=inactive] rect[data-category=sent]")
    expect(sent).to_have_attribute("data-value", "5")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thanks for posting")
    screenshot(page, "mailing-report")


def test_a_welcome_campaign_is_made_from_its_template_and_activated(
    context: Any, served: Served
) -> None:
    page = context.new_page()
    marketing(page, served)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()

    page.get_by_label(re.compile("Welcome new members")).check()
    screenshot(page, "campaign-new")
    page.get_by_role("button", name="Create from the template").click()

    expect(page.locator("#campaign-error")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome new members")
    facts = page.get_by_role("region", name="The campaign")
    expect(facts).to_contain_text(
        "Joined In The Last 7 Days: everyone in it at activation, then people as they enter it"
    )
    expect(facts).to_contain_text("inactive")
    steps = page.locator("#steps")
    for step in ("welcome", "wait-3-days", "posted", "thank-you", "nudge"):
        expect(steps).to_contain_text(step)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Activate").click()
    expect(facts).to_contain_text("active")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()


def test_names_and_subjects_with_script_are_shown_as_text(context: Any, served: Served) -> None:
    page = context.new_page()
    marketing(page, served)
    for path in ("/marketing/groups", "/marketing/mailings"):
        page.goto(f"{served.url}{path}")
        expect(page.locator("main")).to_contain_text(SCRIPT)
        assert page.evaluate("window.kithHacked") is None
    community = context.new_page()
    sign_in(community, served.url, "community", SUPER_ADMIN)
    community.goto(f"{served.url}/community/lists")
    expect(community.locator("#lists")).to_contain_text(f"Informz {SCRIPT}")
    assert community.evaluate("window.kithHacked") is None


def test_a_post_without_the_csrf_token_is_refused(context: Any, served: Served) -> None:
    page = context.new_page()
    marketing(page, served)

    response = page.request.post(
        f"{served.url}/marketing/settings/integration/edit",
        form={"url": "http://evil.example.org", "iam_key": "x", "active": "on"},
        max_redirects=0,
    )

    assert response.status == 403
    page.goto(f"{served.url}/marketing/settings/integration")
    expect(page.locator("dl.facts")).to_contain_text(f"{served.url}/community")


def test_a_community_member_is_refused_the_admin_pages(context: Any, served: Served) -> None:
    page = context.new_page()
    sign_in(page, served.url, "community", MEMBER)
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("List Builder")

    response = page.goto(f"{served.url}/community/lists")

    assert response is not None and response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("super admin role")
    page.goto(f"{served.url}/community/members")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()


def test_the_pages_fit_a_phone(browser: Any, served: Served) -> None:
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    marketing(page, served)
    page.goto(f"{served.url}/marketing/groups?folder={ONLINE_COMMUNITY}")

    width = page.evaluate("document.documentElement.scrollWidth")

    assert width <= 390
    screenshot(page, "groups-phone")
    phone.close()
