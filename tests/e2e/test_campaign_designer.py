"""The campaign designer in Chromium: a campaign built by hand, card by card, saves what the
command line prints; activated, a change to a step people reached makes a new version, said
before saving; a campaign the command line made opens in the designer and saves back unchanged;
a wrong input is refused with the reason on its card, the marketer's typing kept. Every page
shown is checked with axe-core.

The module's app is seeded as the admin pages' one (conftest.py), plus the welcome template's
groups (static here, with the subscribers in the activation one) and mailings, and the groups
and mailing of a campaign using every kind of step.
"""

from __future__ import annotations

import re
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from kith.db import Database
from kith.marketing.campaigns.definition import campaign_definition, get_campaign
from kith.marketing.campaigns.templates import WELCOME, with_groups
from kith.marketing.groups.members import replace_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.models import Subscriber
from kith.marketing.scheduler import run_tick
from tests.e2e.conftest import MARKETER, Served, screenshot, sign_in
from tests.e2e.test_safety import serious_violations
from tests.integration.cli.test_system import KITH, kith_env
from tests.integration.marketing.campaigns.test_definition import DEFINITION

JOINED, POSTED = (WELCOME.lists[role][0] for role in ("activation", "posted"))


@pytest.fixture(scope="module")
def designed(served: Served) -> Served:
    """The app with what the welcome template and DEFINITION name, and nothing made of them."""
    now = datetime.now(UTC)
    marketing = Database(served.settings.marketing_url)
    with marketing.transaction() as session:
        joined = create_group(session, JOINED, now=now)
        for name in (POSTED, "Joined", "Posted", "Thanked"):
            create_group(session, name, now=now)
        replace_members(session, joined.id, select(Subscriber.id), now=now)
        for mailing in WELCOME.mailings:
            draft = MailingDraft(mailing.name, mailing.subject, mailing.html, include=[JOINED])
            create_mailing(session, draft, now=now)
        create_mailing(
            session, MailingDraft("Hello", "Hi", "<p>Hi</p>", include=["Joined"]), now=now
        )
    marketing.dispose()
    return served


def written(served: Served, name: str) -> Any:
    """The campaign as `kith campaigns definition` prints it."""
    marketing = Database(served.settings.marketing_url)
    with marketing.session() as session:
        found = campaign_definition(session, get_campaign(session, name))
    marketing.dispose()
    return found


def tick(served: Served) -> None:
    """What `kith tick` runs, now, sending to the served app's SMTP sink."""
    settings = served.settings.model_copy(update={"smtp_url": served.sink.url()})
    marketing = Database(settings.marketing_url)
    while not run_tick(marketing, settings, now=datetime.now(UTC)).ran:  # the app's own ticked
        time.sleep(0.2)
    marketing.dispose()


def shown(page: Any, name: str) -> None:
    assert serious_violations(page) == []
    screenshot(page, name)


def editing(page: Any) -> Any:
    """The one card whose settings are open."""
    return page.locator("#designer .step-editor")


def add_step(page: Any, where: str, kind: str) -> None:
    page.get_by_role("button", name=where).click()
    page.get_by_role("group", name="Kind of step to add").get_by_role("button", name=kind).click()


def test_the_welcome_campaign_built_by_hand_saves_as_its_template_and_changes_as_a_version(
    context: Any, designed: Served
) -> None:
    page = context.new_page()
    sign_in(page, designed.url, "marketing", MARKETER)
    page.goto(f"{designed.url}/marketing/campaigns/new")
    page.get_by_label("Name", exact=True).fill(WELCOME.campaign)
    page.get_by_role("button", name="Create", exact=True).click()  # no group picked yet
    activation = page.get_by_label("Group that activates it")
    expect(activation).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".designer-settings .field-error")).to_have_text(
        "pick the group that activates the campaign"
    )
    expect(page.get_by_label("Name", exact=True)).to_have_value(WELCOME.campaign)
    activation.select_option(JOINED)
    expect(page.get_by_label("Both: who is in it now and who enters from now on")).to_be_checked()

    page.get_by_role("button", name="Edit Mailing step mailing-1").click()
    editing(page).get_by_label("Step name").fill("welcome")
    editing(page).get_by_label("Mailing").select_option("Welcome to the community")
    editing(page).get_by_label("Mailing").press("Escape")
    page.get_by_role("button", name="Add a step after welcome").click()
    kinds = page.get_by_role("group", name="Kind of step to add")
    expect(kinds.get_by_role("button", name="Decide")).to_be_disabled()
    expect(kinds).to_contain_text("A Decide comes right after a Wait")
    kinds.get_by_role("button", name="Wait").click()
    editing(page).get_by_label("Step name").fill("wait-3-days")
    editing(page).get_by_label("Days").fill("3")
    editing(page).get_by_label("Days").press("Enter")
    add_step(page, "Add a step after wait-3-days", "Decide")
    editing(page).get_by_label("Step name").fill("posted")
    editing(page).get_by_label("Ask whether the person").select_option("member_of")
    editing(page).get_by_label("Group").select_option(POSTED)
    shown(page, "designer-decide")
    editing(page).get_by_label("Group").press("Escape")
    for branch, step, mailing in (
        ("Yes", "thank-you", "Thanks for joining the conversation"),
        ("No", "nudge", "Join the conversation"),
    ):
        add_step(page, f"Add a step at the start of {branch}", "Mailing")
        editing(page).get_by_label("Step name").fill(step)
        editing(page).get_by_label("Mailing").select_option(mailing)
        editing(page).get_by_label("Mailing").press("Escape")
    expect(page.locator("#designer")).to_contain_text("Member of “" + POSTED + "”?")
    page.get_by_role("group", name="Step posted").get_by_role("button", name="Move up").click()
    expect(page.locator(".misplaced")).to_have_text(
        [
            re.compile("^A Decide comes right after a Wait"),
            re.compile("^Nothing can follow a Decide"),
        ]
    )
    page.get_by_role("button", name="Create", exact=True).click()  # refused before it is sent
    expect(
        page.get_by_role("group", name="Step posted").get_by_role("button").first
    ).to_be_focused()
    page.get_by_role("group", name="Step posted").get_by_role("button", name="Move down").click()
    expect(page.locator(".misplaced")).to_have_count(0)
    shown(page, "designer-welcome-built")
    assert page.evaluate("window.kithHacked") is None  # the seeded group named with a script
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "designer-welcome-built-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Create", exact=True).click()

    facts = page.get_by_role("region", name="The campaign")
    expect(facts).to_contain_text("inactive")
    assert written(designed, WELCOME.campaign) == {
        "name": WELCOME.campaign,
        "activation": {"group": JOINED, "mode": WELCOME.mode},
        "steps": with_groups(WELCOME.steps, {"activation": JOINED, "posted": POSTED}),
    }

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Activate").click()
    expect(facts.locator("dd").first).to_have_text("active")
    tick(designed)
    page.get_by_role("link", name="Edit steps").click()
    waiting = page.locator(".step-card", has=page.get_by_text("Step wait-3-days"))
    expect(waiting.locator(".step-counts")).to_have_text("5 waiting here · 0 passed")
    waiting.get_by_role("link", name="5 waiting here").click()
    expect(page.locator("#people-count")).to_have_text("5 subscribers")
    shown(page, "designer-step-people")
    page.go_back()
    expect(page.locator("#change-summary")).to_contain_text("No step has changed yet.")

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    waiting.get_by_role("button", name="Delete").click()
    assert asked and asked[0].startswith("5 people wait at step wait-3-days. Delete it?")
    expect(waiting).to_be_visible()
    page.get_by_role("button", name="Edit Wait step wait-3-days").click()
    editing(page).get_by_label("Days").fill("2")
    expect(page.locator("#makes-new-version")).to_contain_text(
        "Saving makes version 2: people have reached step wait-3-days"
    )
    shown(page, "designer-new-version")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status").first).to_contain_text("Saved as version 2")
    assert written(designed, WELCOME.campaign)["steps"][1] == {
        "id": "wait-3-days",
        "wait": {"days": 2},
    }


def test_a_campaign_from_the_command_line_saves_back_unchanged_and_a_wrong_input_is_refused(
    context: Any, designed: Served, tmp_path: Any
) -> None:
    file = tmp_path / "campaign.json"
    file.write_bytes(orjson.dumps(DEFINITION))
    env = kith_env(designed.settings.data_dir)
    subprocess.run([*KITH, "campaigns", "create", "--file", str(file)], env=env, check=True)
    page = context.new_page()
    sign_in(page, designed.url, "marketing", MARKETER)
    page.goto(f"{designed.url}/marketing/campaigns")
    page.get_by_role("link", name=DEFINITION["name"]).click()
    page.get_by_role("link", name="Edit steps").click()
    designer = page.locator("#designer")
    for words in ("until the next Monday at 09:00", "Add to “Thanked”", "E-mail team@example.org"):
        expect(designer).to_contain_text(words)
    expect(page.locator("#change-summary")).to_contain_text("No step has changed yet.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved: the steps changed in place.")
    assert written(designed, DEFINITION["name"]) == DEFINITION

    page.get_by_role("link", name="Edit steps").click()
    page.get_by_label("Name", exact=True).fill("Every kind of step, again")
    page.get_by_role("button", name="Edit Mailing step hello").click()
    editing(page).get_by_role("link", name="New mailing").click()
    page.get_by_label("Name", exact=True).fill("Hello once more")
    page.get_by_label("Subject", exact=True).fill("Hi again")
    page.get_by_label("HTML body").fill("<p>Hi again</p>")
    page.get_by_role("group", name="Send to (Include)").get_by_label(
        "Joined", exact=False
    ).first.check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Every kind of step, again")
    page.get_by_role("button", name="Edit Mailing step hello").click()
    editing(page).get_by_label("Mailing").select_option("Hello once more")
    expect(page.locator("#changes-in-place")).to_contain_text("step hello")
    page.get_by_role("link", name="Cancel").click()

    page.get_by_role("link", name="Edit steps").click()  # from here on, the keyboard only
    page.get_by_role("button", name="Add a step after mark").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Mailing", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Add a step after mark")).to_be_focused()
    page.get_by_role("button", name="Edit Notify step tell").focus()
    page.keyboard.press("Enter")
    address = editing(page).get_by_label("Address to e-mail")
    for _ in range(5):  # past the card's buttons and the step's name
        page.keyboard.press("Tab")
        if address.evaluate("field => field === document.activeElement"):
            break
    expect(address).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("the team")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Edit Notify step tell")).to_be_focused()
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")

    expect(page.locator("#campaign-error")).to_contain_text("step tell: notify:")
    card = page.locator(".step-card", has=page.get_by_text("Step tell"))
    expect(card.locator(".refused")).to_contain_text("step tell: notify:")
    expect(address).to_have_value("the team")
    expect(address).to_have_attribute("aria-invalid", "true")
    shown(page, "designer-refused")
    address.press("Escape")
    expect(editing(page)).to_have_count(0)
