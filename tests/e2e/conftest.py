"""The whole of Kith in a real browser: `kith serve` as a process on SQLite, an SMTP sink, and
Debian's Chromium driven by Playwright (never a downloaded browser).

Without Chromium the tests are skipped with the reason, except under CI=true, where they fail.
One browser serves the session and one app each module; pages' screenshots go to screenshots/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kith.community import accounts as community_accounts
from kith.community.automation import create_rule
from kith.community.credentials import create_credential
from kith.community.lists import create_list
from kith.config import Settings
from kith.csvimport.report import ImportReport
from kith.db import Database
from kith.marketing import accounts as marketing_accounts
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from kith.migrate import upgrade
from tests.integration.cli.test_system import kith_env, kith_serve
from tests.support.community_world import add_community, add_events, add_member, join
from tests.support.smtp_sink import SmtpSink

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "correct horse battery staple"
MARKETER, SUPER_ADMIN, MEMBER = "mia@example.org", "sam@example.org", "ann@example.org"
# Shown as text everywhere; the pages' tests check that it never runs.
SCRIPT = "<script>window.kithHacked=1</script>"


@dataclass(frozen=True)
class Served:
    """The running app, the credential to type into Integration Settings, the SMTP sink."""

    url: str
    iam_key: str
    password: str
    sink: SmtpSink
    settings: Settings


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (Debian's `chromium` package)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the browser: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("e2e") / "var"
    with SmtpSink() as sink:
        env = kith_env(data_dir) | {"KITH_SMTP_URL": sink.url()}
        settings = Settings(data_dir=data_dir, secret_key=env["KITH_SECRET_KEY"])
        iam_key, password = _seed(settings)
        with kith_serve(env) as (_, url):
            yield Served(url, iam_key, password, sink, settings)


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) per test, at a laptop's size."""
    opened = browser.new_context(viewport={"width": 1280, "height": 900})
    opened.set_default_timeout(15_000)
    yield opened
    opened.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, url: str, side: str, email: str) -> None:
    page.goto(f"{url}/{side}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/{side}/")


def _seed(settings: Settings) -> tuple[str, str]:
    """A community with members, activity, a list, a rule and a credential; subscribers and
    logins; returns the credential. The connection itself is left for the tests to set up."""
    now = datetime.now(UTC)
    community, marketing = Database(settings.community_url), Database(settings.marketing_url)
    upgrade(community, "community")
    upgrade(marketing, "marketing")
    with community.transaction() as session:
        add_member(session, "sam", email=SUPER_ADMIN, is_super_admin=True, first_name="Sam")
        north = add_community(session, "Chapter North")
        for number in range(1, 7):
            member = add_member(
                session,
                f"m{number}",
                email=f"member{number}@example.org",
                legacy_contact_key=f"R-{number}",
                first_name=f"Member{number}",
            )
            join(session, member, north)
            add_events(
                session, member, "thread_started", now - timedelta(days=number), community=north
            )
            if number % 2:
                add_events(session, member, "discussion_reply", now - timedelta(hours=number))
        add_member(session, "ann", email=MEMBER, first_name="Ann")
        nokey = add_member(session, "nokey", email="nokey@example.org")
        add_events(session, nokey, "thread_started", now - timedelta(days=2))
        for email, role in ((SUPER_ADMIN, "super_admin"), (MEMBER, "member")):
            community_accounts.create_login(
                session, email=email, role=role, password=PASSWORD, now=now
            )
        create_list(
            session,
            name="Informz Has Started Discussion Thread",
            criteria={"activity": "thread_started"},
            by="sam",
            now=now,
        )
        create_list(
            session, name=f"Informz {SCRIPT}", criteria={"activity": "any"}, by="sam", now=now
        )
        create_rule(
            session,
            name="Welcome to the discussion",
            criteria={"activity": "thread_started", "community": "Chapter North"},
            action="send_email",
            subject="Thanks for starting a thread",
            by="sam",
            now=now,
        )
        issued = create_credential(session, name="Marketing connection", by="sam", now=now)
    with marketing.transaction() as session:
        marketing_accounts.create_login(
            session, email=MARKETER, role="admin", password=PASSWORD, now=now
        )
        rows = [
            SubscriberRow(n + 1, f"member{n}@example.org", f"R-{n}", first_name=f"Member{n}")
            for n in range(1, 6)
        ]
        rows.append(SubscriberRow(7, "member6@example.org", "R-6", status="unsubscribed"))
        SubscriberUpsert(session, now=now, source="import").write(rows, ImportReport())
        create_group(session, f"Group {SCRIPT}", now=now)
        create_mailing(
            session,
            MailingDraft(
                name="Escaped", subject=SCRIPT, html="<p>Hi</p>", include=[f"Group {SCRIPT}"]
            ),
            now=now,
        )
    community.dispose()
    marketing.dispose()
    return issued.credential.iam_key, issued.password
