"""What a marketer cannot do by one stray click, in Chromium: a send and an activation ask
first, saying to whom; a send to nobody is refused and the mailing stays a draft.

The module's app is seeded as the admin pages' one (conftest.py): its mailing "Escaped" goes to
a static group nobody is in. Every page shown is checked with axe-core.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.conftest import MARKETER, SCRIPT, Served, screenshot, sign_in


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page, by rule and element."""
    found = Axe().run(page).response["violations"]
    return [
        f"{violation['id']}: {node['target']}"
        for violation in found
        if violation["impact"] in ("serious", "critical")
        for node in violation["nodes"]
    ]


def answering(page: Any, *, accept: bool) -> list[str]:
    """Answer the page's next confirmation; the list receives its question."""
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", answer)
    return asked


def integration_settings(page: Any, served: Served, *, password: str) -> None:
    """Edit Integration Settings: active, this app's community, its credential, `password`."""
    page.goto(f"{served.url}/marketing/settings/integration/edit")
    page.get_by_label("Active").check()
    page.get_by_label("Community API URL").fill(f"{served.url}/community")
    page.get_by_label("IAMKey").fill(served.iam_key)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Update").click()


def test_a_send_asks_with_the_count_and_groups_and_a_send_to_nobody_stays_a_draft(
    context: Any, served: Served
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    page.goto(f"{served.url}/marketing/mailings")
    page.get_by_role("link", name="Escaped").click()
    facts = page.get_by_role("region", name="The mailing")

    asked = answering(page, accept=False)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    assert asked == [
        f"Send Escaped now to 0 recipients in Group {SCRIPT}? Community groups are resynced "
        "first, which can change the count. A sent mailing cannot be called back."
    ]
    expect(facts).to_contain_text("draft")

    answering(page, accept=True)
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.locator("#not-sent")).to_contain_text(
        f"nobody to send to: no subscribed subscriber is in Group {SCRIPT}", timeout=30_000
    )
    expect(facts.locator("dd").first).to_have_text("draft")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    assert page.evaluate("window.kithHacked") is None
    assert serious_violations(page) == []
    screenshot(page, "mailing-sent-to-nobody")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "mailing-sent-to-nobody-phone")
    page.get_by_role("link", name="Edit").click()
    page.get_by_role("button", name="Save").click()
    expect(facts).to_be_visible()
    expect(page.locator("#not-sent")).to_have_count(0)  # the reason went with the change


def test_activating_a_campaign_asks_first(context: Any, served: Served) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    integration_settings(page, served, password=served.password)
    page.goto(f"{served.url}/marketing/campaigns/new")
    page.get_by_label("Welcome new members", exact=False).check()
    page.get_by_role("button", name="Create from the template").click()
    facts = page.get_by_role("region", name="The campaign")

    asked = answering(page, accept=False)
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("button", name="Activate")).to_be_visible()
    expect(facts.locator("dd").first).to_have_text("inactive")
    assert asked and "Joined In The Last 7 Days" in asked[0]
    assert serious_violations(page) == []

    answering(page, accept=True)
    page.get_by_role("button", name="Activate").click()

    expect(facts.locator("dd").first).to_have_text("active")
    screenshot(page, "campaign-activated")


def test_an_update_the_community_refuses_is_said_in_red(context: Any, served: Served) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)

    integration_settings(page, served, password="not the password")

    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text("saved, but the connection does not work with them")
    expect(alert).to_have_class("alert error")
    expect(page.locator("#connection-check")).to_contain_text("The connection failed")
    expect(page.locator("main")).not_to_contain_text("are updated")
    assert serious_violations(page) == []
    screenshot(page, "integration-settings-refused")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "integration-settings-refused-phone")

    integration_settings(page, served, password=served.password)

    expect(page.get_by_role("status").first).to_have_text(
        "The Integration Settings are updated, and the connection works."
    )
    expect(page.locator("#connection-check")).to_contain_text("Connected")


def test_a_failing_sync_shows_on_the_start_page_and_the_groups_row(
    context: Any, served: Served
) -> None:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    integration_settings(page, served, password="not the password")
    page.goto(f"{served.url}/marketing/groups?folder=Online Community")
    page.get_by_role("link", name="Joined In The Last 7 Days").click()
    page.get_by_role("button", name="Sync Target Group Now").click()
    expect(page.locator("#sync-result")).to_contain_text("failed", timeout=30_000)

    page.goto(f"{served.url}/marketing/")

    banner = page.get_by_role("alert").filter(has_text="Joined In The Last 7 Days")
    expect(banner).to_contain_text("Not synced: the group Joined In The Last 7 Days failed to sync")
    expect(banner).to_contain_text("HTTP 401")
    assert serious_violations(page) == []
    screenshot(page, "start-sync-failed")
    page.goto(f"{served.url}/marketing/groups?folder=Online Community")
    row = page.locator("#groups tr", has_text="Joined In The Last 7 Days")
    screenshot(page, "groups-sync-failed")
    row.get_by_role("link", name="failed: see why").click()
    expect(page.locator("#sync-result")).to_contain_text("HTTP 401")
