"""Automation Rules: Super Admins only, List Builder criteria, who matches now, and the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from kith.community import automation, saved_criteria
from kith.community.app import create_community_app
from kith.community.credentials import create_credential
from kith.community.criteria import InvalidCriteria
from kith.community.models import AutomationRule, Member
from kith.config import Settings
from kith.db import Database
from kith.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from kith.web.loopback import serve_on_loopback
from tests.support.community_world import NOW, add_events, add_member
from tests.support.fake_clock import FakeClock

DAY = timedelta(days=1)
REPLIED = {"activity": "discussion_reply", "within_days": 30}
BAD_CRITERIA = {"all": [REPLIED, {"activity": "posted"}]}
BAD_NODE = "criteria.all[1].activity: unknown activity type 'posted'"


@pytest.fixture
def people(community_db: Database) -> Database:
    """A Super Admin, a plain member, and three repliers: two in the last 30 days, one before."""
    with community_db.transaction() as session:
        add_member(session, "admin", email="Admin@Example.org", is_super_admin=True)
        add_member(session, "plain", email="plain@example.org")
        for key, legacy, days_ago in (
            ("recent", "L-RECENT", 5),
            ("lapsed", "L-LAPSED", 40),
            ("nokey", None, 1),
        ):
            replier = add_member(session, key, legacy_contact_key=legacy)
            add_events(session, replier, "discussion_reply", NOW - days_ago * DAY)
    return community_db


def new_rule(db: Database, name: str = "Welcome back", **fields: Any) -> str:
    fields = {"criteria": REPLIED, "action": "send_email", "subject": "We missed you", **fields}
    with db.transaction() as session:
        return automation.create_rule(session, name=name, by="admin", now=NOW, **fields).rule_key


def rule_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(AutomationRule)) or 0


# --- the service ----------------------------------------------------------------------------


def test_only_super_admins_create_change_or_delete_rules(people: Database) -> None:
    key = new_rule(people)
    refusal = r"plain@example\.org is not a Super Admin; only Super Admins can create, change"
    with people.transaction() as session:
        with pytest.raises(PermissionDenied, match=refusal):
            automation.create_rule(
                session, name="Other", criteria=REPLIED, action="notify_admin", by="plain", now=NOW
            )
        with pytest.raises(PermissionDenied, match=refusal):
            automation.update_rule(session, key, by="plain", now=NOW, active=False)
        with pytest.raises(PermissionDenied, match=refusal):
            automation.delete_rule(session, key, by="plain@example.org")
    with people.session() as session:
        kept = automation.get_rule(session, "welcome BACK")
        assert (kept.rule_key, kept.active, kept.created_by) == (key, True, "admin")
    assert rule_count(people) == 1


def test_invalid_criteria_are_refused_with_the_path_of_the_bad_node(people: Database) -> None:
    key = new_rule(people)
    with pytest.raises(InvalidCriteria) as refused:
        new_rule(people, "Broken", criteria=BAD_CRITERIA)
    assert str(refused.value).startswith(BAD_NODE)
    with (
        pytest.raises(InvalidCriteria, match=r"^criteria\.activity\.within_days: must be at"),
        people.transaction() as session,
    ):
        automation.update_rule(
            session, key, by="admin", now=NOW, criteria={"activity": "login", "within_days": 0}
        )
    with people.session() as session:
        assert automation.get_rule(session, key).criteria == REPLIED
    assert rule_count(people) == 1


@pytest.mark.parametrize(
    ("action", "subject", "refusal"),
    [
        ("send_email", None, "a send_email rule needs a subject"),
        ("send_email", "   ", "a send_email rule needs a subject"),
        ("send_email", "Hello\r\nBcc: all@example.org", "a subject is one line"),
        ("award_badge", "Well done", "only send_email rules have a subject; award_badge"),
        ("send_sms", None, "unknown action 'send_sms'; the actions are award_badge, notify"),
    ],
)
def test_send_email_needs_a_one_line_subject_and_no_other_action_takes_one(
    people: Database, action: str, subject: str | None, refusal: str
) -> None:
    with pytest.raises(InvalidInput, match=refusal):
        new_rule(people, action=action, subject=subject)
    assert rule_count(people) == 0


def test_a_rule_moved_off_send_email_drops_its_subject_and_moved_back_needs_one(
    people: Database,
) -> None:
    key = new_rule(people)
    with people.transaction() as session:
        moved = automation.update_rule(session, key, by="admin", now=NOW, action="notify_admin")
        assert (moved.action, moved.subject) == ("notify_admin", None)
    with pytest.raises(InvalidInput, match="needs a subject"), people.transaction() as session:
        automation.update_rule(session, key, by="admin", now=NOW, action="send_email")
    with people.transaction() as session:
        back = automation.update_rule(
            session, key, by="admin", now=NOW, action="send_email", subject=" Hi again "
        )
        assert (back.action, back.subject) == ("send_email", "Hi again")


def test_the_database_itself_refuses_a_subject_on_another_action(people: Database) -> None:
    key = new_rule(people)
    with pytest.raises(IntegrityError), people.transaction() as session:
        session.execute(
            update(AutomationRule)
            .where(AutomationRule.rule_key == key)
            .values(action="award_badge")
        )


def test_names_are_unique_ignoring_case(people: Database) -> None:
    new_rule(people, "Welcome back")
    with pytest.raises(Conflict, match="an Automation Rule named 'Welcome back' already exists"):
        new_rule(people, " WELCOME BACK ", action="notify_admin", subject=None)
    with (
        pytest.raises(NotFound, match="no Automation Rule has the key or name 'Gone'"),
        people.session() as session,
    ):
        automation.get_rule(session, "Gone")


def test_a_rule_matches_the_members_its_criteria_select_at_that_moment(people: Database) -> None:
    key = new_rule(people)
    with people.session() as session:
        rule = automation.get_rule(session, key)
        ids_now = session.scalars(
            saved_criteria.member_ids_query(session, rule.criteria, now=NOW)
        ).all()
        now_keys = [
            m.legacy_contact_key
            for m in saved_criteria.iter_matched_members(session, rule.criteria, now=NOW)
        ]
        earlier = [
            m.contact_key
            for m in saved_criteria.iter_matched_members(session, rule.criteria, now=NOW - 20 * DAY)
        ]
        later = saved_criteria.count_members(session, rule.criteria, now=NOW + 30 * DAY)
        contact_keys = session.scalars(
            select(Member.contact_key).where(Member.id.in_(ids_now)).order_by(Member.id)
        ).all()
    assert contact_keys == ["recent", "nokey"]
    assert now_keys == ["L-RECENT", None]
    assert earlier == ["lapsed"]  # replied 40 days before NOW: within 30 days of NOW - 20 days
    assert later == 0


def test_matched_members_page_in_chunks_and_resume_after_a_member(people: Database) -> None:
    key = new_rule(people, criteria={"activity": "discussion_reply", "min": 1})
    with people.session() as session:
        rule = automation.get_rule(session, key)
        chunks = list(
            saved_criteria.matched_member_chunks(session, rule.criteria, now=NOW, chunk=2)
        )
        after_first = saved_criteria.matched_member_chunks(
            session, rule.criteria, now=NOW, after_id=chunks[0][0].id, chunk=10
        )
        rest = [m.contact_key for m in next(after_first)]
    assert [[m.contact_key for m in chunk] for chunk in chunks] == [["recent", "lapsed"], ["nokey"]]
    assert rest == ["lapsed", "nokey"]


def test_rules_filter_by_active_and_action(people: Database) -> None:
    email = new_rule(people, "Email")
    new_rule(people, "Paused email", active=False)
    badge = new_rule(people, "Badge", action="award_badge", subject=None)
    with people.session() as session:
        active_email = automation.all_rules(session, active=True, action="send_email")
        active = automation.all_rules(session, active=True)
        with pytest.raises(InvalidInput, match="unknown action 'mail'"):
            automation.all_rules(session, action="mail")
    assert [rule.rule_key for rule in active_email] == [email]
    assert [rule.rule_key for rule in active] == [badge, email]


# --- the API over HTTP ----------------------------------------------------------------------


@dataclass
class RulesApi:
    """A running community app, a client holding the admin's credential, and the app's clock."""

    client: httpx.Client
    base_url: str
    clock: FakeClock

    def stream_members(self, key: str) -> list[dict[str, Any]]:
        with self.client.stream("GET", f"/api/v1/automation-rules/{key}/members.ndjson") as got:
            assert got.status_code == 200, got.read()
            assert got.headers["content-type"] == "application/x-ndjson"
            return [orjson.loads(line) for line in got.iter_lines() if line]


@pytest.fixture
def api(people: Database, settings: Settings) -> Iterator[RulesApi]:
    with people.transaction() as session:
        issued = create_credential(session, name="Marketing", by="admin", now=NOW)
    app = create_community_app(people, settings)
    clock = FakeClock(NOW)
    app.state.clock = clock
    headers = {"HLIAMKey": issued.credential.iam_key, "HLPassword": issued.password}
    with (
        serve_on_loopback(app) as base_url,
        httpx.Client(base_url=base_url, headers=headers, timeout=60) as client,
    ):
        yield RulesApi(client, base_url, clock)


def test_a_super_admins_credential_creates_changes_and_deletes_rules(api: RulesApi) -> None:
    body = {"name": "Welcome back", "criteria": REPLIED, "action": "send_email", "subject": "Hi"}
    created = api.client.post("/api/v1/automation-rules", json=body)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert created.json()["created_by"] == "admin"
    paused = api.client.put(f"/api/v1/automation-rules/{key}", json={"active": False})
    assert paused.status_code == 200, paused.text
    assert (paused.json()["active"], paused.json()["subject"]) == (False, "Hi")
    listed = api.client.get("/api/v1/automation-rules").json()
    assert [(rule["key"], rule["active"], rule["member_count"]) for rule in listed] == [
        (key, False, 2)
    ]
    assert api.client.delete(f"/api/v1/automation-rules/{key}").status_code == 204
    gone = api.client.get("/api/v1/automation-rules/Welcome back/members.ndjson")
    assert gone.status_code == 404
    assert gone.json()["message"] == "no Automation Rule has the key or name 'Welcome back'"


def test_the_list_filters_active_send_email_rules_and_counts_who_each_matches_now(
    api: RulesApi, people: Database
) -> None:
    email = new_rule(people, "Email")
    new_rule(people, "Paused email", active=False)
    new_rule(people, "Badge", action="award_badge", subject=None)
    response = api.client.get("/api/v1/automation-rules?active=true&action=send_email")
    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "key": email,
            "name": "Email",
            "action": "send_email",
            "subject": "We missed you",
            "active": True,
            "criteria": REPLIED,
            "member_count": 2,
            "error": None,
            "created_by": "admin",
            "created_at": NOW.isoformat(),
            "updated_by": "admin",
            "updated_at": NOW.isoformat(),
        }
    ]


def test_members_ndjson_streams_who_the_rule_matches_now_and_ends_with_the_count(
    api: RulesApi, people: Database
) -> None:
    key = new_rule(people)
    assert api.stream_members(key) == [
        {
            "contact_key": "recent",
            "legacy_contact_key": "L-RECENT",
            "email": "recent@example.org",
            "first_name": None,
            "last_name": None,
        },
        {
            "contact_key": "nokey",
            "legacy_contact_key": None,
            "email": "nokey@example.org",
            "first_name": None,
            "last_name": None,
        },
        {"end": {"count": 2}},
    ]
    api.clock.now = NOW + 30 * DAY  # a month on, nobody has replied within 30 days
    assert api.stream_members(key) == [{"end": {"count": 0}}]


def test_invalid_criteria_and_a_missing_subject_are_422_naming_the_problem(
    api: RulesApi,
) -> None:
    bad_tree = {"name": "X", "criteria": BAD_CRITERIA, "action": "send_email", "subject": "S"}
    no_subject = {"name": "X", "criteria": REPLIED, "action": "send_email"}
    responses = [
        api.client.post("/api/v1/automation-rules", json=b) for b in (bad_tree, no_subject)
    ]
    assert [response.status_code for response in responses] == [422, 422]
    assert responses[0].json()["message"].startswith(BAD_NODE)
    assert responses[1].json()["message"] == "a send_email rule needs a subject"


def test_rule_changes_are_403_once_the_credentials_creator_is_no_longer_a_super_admin(
    api: RulesApi, people: Database
) -> None:
    key = new_rule(people)
    with people.transaction() as session:
        session.execute(
            update(Member).where(Member.contact_key == "admin").values(is_super_admin=False)
        )
    body = {"name": "X", "criteria": REPLIED, "action": "notify_admin"}
    responses = [
        api.client.post("/api/v1/automation-rules", json=body),
        api.client.put(f"/api/v1/automation-rules/{key}", json={"active": False}),
        api.client.delete(f"/api/v1/automation-rules/{key}"),
    ]
    for response in responses:
        assert response.status_code == 403, response.text
        assert "only Super Admins can create, change or delete" in response.json()["message"]
    with people.session() as session:
        assert [(r.rule_key, r.active) for r in automation.all_rules(session)] == [(key, True)]


def test_rules_need_the_credential_headers_and_document_both(api: RulesApi) -> None:
    anonymous = httpx.get(f"{api.base_url}/api/v1/automation-rules")
    assert anonymous.status_code == 401
    schema = httpx.get(f"{api.base_url}/openapi.json").json()
    operation = schema["paths"]["/api/v1/automation-rules/{key}/members.ndjson"]["get"]
    assert operation["security"] == [{"HLIAMKey": [], "HLPassword": []}]
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/automation-rules"])
