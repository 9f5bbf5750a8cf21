"""Putting things away and failures where the marketer looks, in Chromium: a draft mailing or
campaign is deleted and a sent or started one archived, each after a question saying what is
lost or kept; archived ones leave their lists until asked for; a mailing is duplicated; a
group's delete says what goes and a refusal reads as one; a campaign says when its group failed
to sync, in words (no "over_time"); a compound group's count follows the groups picked, and its
members are listed; Info names the community list; a reloaded Refresh lands on Groups. Every
page is shown at 1280 px and 390 px and checked with axe-core.

The module's app is seeded as the admin pages' one (conftest.py); this module adds two static
groups, a sent mailing and a draft, and two campaigns (one never activated, one running).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from kith.db import Database
from kith.marketing.campaigns.definition import activate, create_campaign
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from tests.e2e.conftest import MARKETER, Served, sign_in
from tests.e2e.test_safety import answering, integration_settings
from tests.e2e.test_see_who import shown
from tests.support.bounce_world import add_readers, send_to_readers

READERS = tuple(f"tidy{number}@example.net" for number in range(1, 6))
LEAVERS = READERS[3:]


@pytest.fixture(scope="module")
def seeded(served: Served) -> Iterator[dict[str, int]]:
    """ "Tidy readers" (5) and "Tidy leavers" (2 of them); "Tidy news" sent to the readers and
    the draft "Tidy draft"; the campaign "Tidy plan" never activated and "Tidy welcome"
    running. Their ids by name."""
    db = Database(served.settings.marketing_url)
    add_readers(db, READERS, group_name="Tidy readers")
    add_readers(db, LEAVERS, group_name="Tidy leavers")
    sent = send_to_readers(
        db, served.settings, served.sink, name="Tidy news", group_name="Tidy readers"
    )
    now = datetime.now(UTC)
    ids = {"news": sent.mailing_id}
    with db.transaction() as session:
        draft = MailingDraft("Tidy draft", "Draft", "<p>Hi</p>", include=["Tidy readers"])
        ids["draft"] = create_mailing(session, draft, now=now).id
        for name in ("Tidy plan", "Tidy welcome"):
            written = {
                "name": name,
                "activation": {"group": "Tidy readers", "mode": "over_time"},
                "steps": [{"id": "thanks", "mailing": "Tidy news"}],
            }
            ids[name] = create_campaign(session, written, now=now).id
        activate(session, "Tidy welcome", now=now)
    db.dispose()
    yield ids


def marketer(context: Any, served: Served) -> Any:
    page = context.new_page()
    sign_in(page, served.url, "marketing", MARKETER)
    return page


def sync_posters(page: Any, served: Served) -> None:
    """Sync Target Group Now on the Info of "Has Started Discussion Thread", which names its
    community list by name, not by key (it never synced well in this module's app)."""
    page.goto(f"{served.url}/marketing/groups?folder=Online Community")
    page.get_by_role("link", name="Has Started Discussion Thread").click()
    community_list = "Informz Has Started Discussion Thread"
    expect(page.locator("#community-list")).to_have_text(community_list)
    page.get_by_role("button", name="Sync Target Group Now").click()


def mailing_names(page: Any) -> list[str]:
    return page.locator("table.stack tbody td[data-label=Mailing] a").all_inner_texts()


def test_a_draft_mailing_is_deleted_and_a_sent_one_archived_and_brought_back(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/mailings/{seeded['draft']}")
    asked = answering(page, accept=False)
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("button", name="Delete")).to_be_visible()
    assert asked == [
        "Delete Tidy draft for good? Its subject, message and groups are lost; "
        "it was never sent, so no report is lost."
    ]
    answering(page, accept=True)
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{served.url}/marketing/mailings")
    assert "Tidy draft" not in mailing_names(page)

    page.goto(f"{served.url}/marketing/mailings/{seeded['news']}")
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)  # it was sent
    asked = answering(page, accept=True)
    page.get_by_role("button", name="Archive").click()
    expect(page.locator("#archived-note")).to_contain_text("Who it went to and its report are kept")
    assert "its report are kept" in asked[0]
    shown(page, "mailing-archived")
    page.goto(f"{served.url}/marketing/mailings")
    assert "Tidy news" not in mailing_names(page)
    page.get_by_label("Show archived").check()
    page.get_by_role("button", name="Search").click()
    row = page.locator("tr", has_text="Tidy news")
    expect(row.locator(".badge")).to_have_text("archived")
    expect(row.get_by_role("link", name="Report")).to_be_visible()  # the report stays
    shown(page, "mailings-show-archived")
    row.get_by_role("link", name="Tidy news").click()
    page.get_by_role("button", name="Unarchive").click()
    expect(page.locator("#archived-note")).to_have_count(0)
    page.goto(f"{served.url}/marketing/mailings")
    assert "Tidy news" in mailing_names(page)


def test_a_mailing_is_duplicated_as_a_draft_to_edit(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/mailings/{seeded['news']}")
    page.get_by_role("button", name="Duplicate").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Tidy news (copy)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("region", name="The mailing").locator("dd").first).to_have_text("draft")


def test_a_campaign_never_run_is_deleted_and_a_running_one_archived_which_stops_it(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/campaigns/{seeded['Tidy plan']}")
    expect(page.get_by_role("button", name="Archive")).to_have_count(0)  # nothing to keep
    asked = answering(page, accept=True)
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{served.url}/marketing/campaigns")
    assert asked == [
        "Delete Tidy plan for good? Its steps are lost; it never ran, so nobody's progress is lost."
    ]
    expect(page.locator("table.stack")).not_to_contain_text("Tidy plan")

    page.goto(f"{served.url}/marketing/campaigns/{seeded['Tidy welcome']}")
    facts = page.get_by_role("region", name="The campaign")
    expect(facts.locator("dd").first).to_have_text("active")
    expect(facts).to_contain_text("Tidy readers: people as they enter it")  # not "over_time"
    expect(page.locator("main")).not_to_contain_text("over_time")
    asked = answering(page, accept=True)
    page.get_by_role("button", name="Archive").click()
    expect(page.locator("#archived-note")).to_contain_text("Archived: stopped")
    expect(facts.locator("dd").first).to_have_text("inactive")
    assert "It stops: nobody more enters and no step runs." in asked[0]
    expect(page.get_by_role("button", name="Activate")).to_have_count(0)
    shown(page, "campaign-archived")
    page.goto(f"{served.url}/marketing/campaigns")
    expect(page.locator("table.stack")).not_to_contain_text("Tidy welcome")
    page.get_by_label("Show archived").check()
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tr", has_text="Tidy welcome").locator(".badge")).to_have_text("archived")
    page.get_by_role("link", name="Tidy welcome").click()
    page.get_by_role("button", name="Unarchive").click()
    expect(page.get_by_role("button", name="Activate")).to_be_visible()  # unarchived, still stopped


def test_a_groups_delete_says_what_is_lost_and_a_refusal_names_the_users(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/groups?q=Tidy+readers")
    row = page.locator("#groups tr", has_text="Tidy readers")
    row.get_by_label("Menu for Tidy readers").click()
    asked = answering(page, accept=True)
    row.get_by_role("button", name="Delete Tidy readers").click()

    expect(page.get_by_role("alert")).to_contain_text("the group 'Tidy readers' is used by")
    assert asked[0].startswith("Delete the group Tidy readers? Its 5 memberships are lost")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not done")
    expect(page.get_by_role("alert")).to_contain_text("'Tidy news' (id 2, which includes it)")
    expect(page.get_by_role("alert")).to_contain_text("the campaign 'Tidy welcome'")
    shown(page, "group-delete-refused")


def test_a_compound_groups_count_follows_the_groups_picked(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/compound-groups/new")
    count = page.locator("#members-now")
    expect(count).to_contain_text("none yet")
    include = page.get_by_role("group", name="Include")
    exclude = page.get_by_role("group", name="Exclude")

    include.get_by_label("Tidy readers").check()
    expect(count).to_have_text("Members now: 5 subscribers")
    exclude.get_by_label("Tidy leavers").check()
    expect(count).to_have_text("Members now: 3 subscribers")
    include.get_by_label("Tidy leavers").check()
    include.get_by_label("In all").check()  # in both, minus the leavers: nobody
    expect(count).to_have_text("Members now: 0 subscribers")
    shown(page, "compound-count")
    include.get_by_label("Tidy leavers").uncheck()
    include.get_by_label("In one or more").check()
    page.get_by_label("Name", exact=True).fill("Tidy stayers")
    page.get_by_role("button", name="Create compound group").click()

    page.get_by_role("link", name="See who is in the group").click()
    expect(page.locator("#people-count")).to_have_text("3 subscribers")
    expect(page.locator("#people")).not_to_contain_text(LEAVERS[0])


def test_a_campaign_whose_group_failed_to_sync_says_it_enrolls_nobody(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    page = marketer(context, served)
    integration_settings(page, served, password=served.password)
    page.goto(f"{served.url}/marketing/groups?folder=Online Community")
    page.get_by_role("button", name="Refresh Target Group List").click()
    expect(page.locator("#refresh-report")).to_contain_text("Has Started Discussion Thread")
    page.goto(f"{served.url}/marketing/groups/refresh")  # reloaded, or typed: the groups again
    expect(page.get_by_role("heading", level=1)).to_have_text("Groups")
    expect(page.locator("main")).not_to_contain_text("valid integer")
    db = Database(served.settings.marketing_url)
    with db.transaction() as session:
        written = {
            "name": "Thank the posters",
            "activation": {"group": "Has Started Discussion Thread", "mode": "over_time"},
            "steps": [{"id": "thanks", "mailing": "Tidy news"}],
        }
        campaign_id = create_campaign(session, written, now=datetime.now(UTC)).id
    db.dispose()
    integration_settings(page, served, password="not the password")
    sync_posters(page, served)
    expect(page.locator("#sync-result")).to_contain_text("failed", timeout=30_000)

    page.goto(f"{served.url}/marketing/campaigns/{campaign_id}")

    banner = page.get_by_role("alert").filter(has_text="Has Started Discussion Thread")
    expect(banner).to_contain_text(
        "This campaign enrolls nobody: its activation group Has Started Discussion Thread "
        "failed to sync at "
    )
    expect(banner).to_contain_text(", because the community API")
    expect(banner).to_contain_text("(HTTP 401)")
    shown(page, "campaign-group-failed")
    page.goto(f"{served.url}/marketing/campaigns")
    note = page.locator("tr", has_text="Thank the posters").locator("+ tr.note")
    expect(note).to_contain_text("Enrolls nobody: Has Started Discussion Thread failed to sync at ")
    shown(page, "campaigns-group-failed")
    integration_settings(page, served, password=served.password)  # as the next test expects


def test_the_campaign_and_scoring_pages_speak_to_people_not_the_command_line(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    page = marketer(context, served)
    for path in (
        "campaigns/new",
        f"campaigns/{seeded['Tidy welcome']}/edit",
        "scoring",
        "scoring/edit",
    ):
        page.goto(f"{served.url}/marketing/{path}")
        main = page.locator("main")
        expect(main).to_be_visible()
        for command_words in ("--file", "kith campaigns", "kith scoring"):
            expect(main).not_to_contain_text(command_words)
    page.goto(f"{served.url}/marketing/campaigns/new")
    expect(page.get_by_role("heading", name="Design the campaign")).to_be_visible()
    shown(page, "campaign-new")


def test_a_sync_that_works_again_clears_the_campaigns_banner_and_names_who_it_left_out(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    """After the failing sync above (this module's tests run in order): the connection works."""
    page = marketer(context, served)
    integration_settings(page, served, password=served.password)
    sync_posters(page, served)
    expect(page.locator("#sync-result")).to_contain_text("Synced: 7 in the list", timeout=30_000)

    page.get_by_role("link", name="Rejected members").click()
    rejected = page.get_by_role("region", name="Rejected members")
    unsubscribed = rejected.locator("tr", has_text="member6@example.org")
    expect(unsubscribed).to_contain_text("unsubscribed")
    expect(unsubscribed.get_by_role("link", name="member6@example.org")).to_be_visible()
    expect(rejected.locator("tr", has_text="nokey@example.org")).to_contain_text("no Legacy")
    shown(page, "group-rejected-members")
    page.goto(f"{served.url}/marketing/campaigns")
    expect(page.locator("tr.note")).to_have_count(0)


def test_the_menu_and_account_fit_one_line_at_1280_px(
    context: Any, served: Served, seeded: dict[str, int]
) -> None:
    page = marketer(context, served)
    page.goto(f"{served.url}/marketing/campaigns")

    menu = page.get_by_role("navigation", name="Main").bounding_box()
    account = page.locator(".who").bounding_box()
    assert menu is not None and account is not None
    assert account["y"] < menu["y"] + menu["height"]  # beside the menu, not below it
    assert menu["height"] < 40  # one line
