"""The marketing REST API over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from kith.app import create_app
from kith.community.app import create_community_app
from kith.community.credentials import create_credential
from kith.config import Settings
from kith.connection.client import check_connection
from kith.db import Database
from kith.marketing.app import create_marketing_app
from kith.marketing.bounces.intake import BouncePolicy, take_in
from kith.marketing.tokens import INVALID_TOKEN, MISSING_TOKEN, create_token, revoke_token
from kith.web.loopback import serve_on_loopback
from tests.support.bounce_messages import postfix_dsn
from tests.support.bounce_world import add_readers, send_to_readers, with_bounce_address
from tests.support.community_world import add_member
from tests.support.fake_clock import FakeClock
from tests.support.smtp_sink import SmtpSink

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
API_ROUTES = {
    ("get", "/api/subscribers"),
    ("post", "/api/subscribers"),
    ("get", "/api/subscribers/{reference}"),
    ("put", "/api/subscribers/{reference}/status"),
    ("post", "/api/subscribers/import"),
    ("get", "/api/folders"),
    ("post", "/api/folders"),
    ("get", "/api/groups"),
    ("post", "/api/groups"),
    ("post", "/api/groups/compound"),
    ("put", "/api/groups/{name}/compound"),
    ("get", "/api/groups/{name}"),
    ("delete", "/api/groups/{name}"),
    ("get", "/api/groups/{name}/members"),
    ("post", "/api/groups/{name}/members"),
    ("post", "/api/groups/{name}/members/remove"),
    ("get", "/api/groups/{name}/live"),
    ("put", "/api/groups/{name}/live"),
    ("get", "/api/groups/{name}/sync-runs"),
    ("get", "/api/integration"),
    ("put", "/api/integration"),
    ("post", "/api/integration/test"),
}


@dataclass
class Api:
    """A running marketing app, a client holding a valid token, and a client holding none."""

    client: httpx.Client
    anonymous: httpx.Client
    db: Database
    token: str

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(f"/api{path}", params=params)

    def post(self, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return self.client.post(f"/api{path}", json=body, params=params)

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.client.put(f"/api{path}", json=body)

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(f"/api{path}")

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json() if response.content else None


@pytest.fixture
def marketing_settings(marketing_db: Database, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var", marketing_db_url=marketing_db.url, secret_key="test-secret"
    )


@pytest.fixture
def api(marketing_db: Database, marketing_settings: Settings) -> Iterator[Api]:
    with marketing_db.transaction() as session:
        issued = create_token(session, name="tests", now=NOW)
    # filled as the one ASGI app fills it: marketing cannot import the connection
    app = create_marketing_app(marketing_db, marketing_settings, connection_check=check_connection)
    app.state.clock = FakeClock(NOW)
    with (
        serve_on_loopback(app) as base_url,
        httpx.Client(
            base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {issued.token}"}
        ) as client,
        httpx.Client(base_url=base_url, timeout=60) as anonymous,
    ):
        yield Api(client, anonymous, marketing_db, issued.token)


def _subscriber(api: Api, email: str, remote_id: str | None = None, **fields: Any) -> None:
    api.ok(api.post("/subscribers", {"email": email, "remote_id": remote_id, **fields}), 201)


def _static_group(api: Api, name: str, emails: list[str]) -> None:
    api.ok(api.post("/groups", {"name": name}), 201)
    members = [{"email": email} for email in emails]
    assert api.ok(api.post(f"/groups/{name}/members", {"members": members}))["added"] == len(emails)


def _member_emails(api: Api, group: str) -> set[str]:
    return {member["email"] for member in api.ok(api.get(f"/groups/{group}/members"))}


# --- authentication -------------------------------------------------------------------------


def test_every_api_route_answers_401_without_a_token_and_changes_nothing(api: Api) -> None:
    _subscriber(api, "x@example.org", "x")
    _static_group(api, "x", ["x@example.org"])
    schema = api.anonymous.get("/openapi.json").json()
    routes = {
        (method, path)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    assert routes >= API_ROUTES
    for method, path in sorted(routes):
        url = path.replace("{reference}", "x").replace("{name}", "x")
        for headers in (
            {},
            {"Authorization": "Basic eDp4"},
            {"Authorization": "Bearer not-a-token"},
        ):
            response = api.anonymous.request(method, url, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"] == "AuthenticationFailed"
            assert response.json()["message"] in (MISSING_TOKEN, INVALID_TOKEN)
    assert api.ok(api.get("/groups/x"))["member_count"] == 1
    assert [s["remote_id"] for s in api.ok(api.get("/subscribers"))] == ["x"]


def test_an_unknown_or_revoked_token_gets_401(api: Api) -> None:
    assert api.get("/folders").status_code == 200
    unknown = api.anonymous.get("/api/folders", headers={"Authorization": f"Bearer {api.token}x"})
    assert unknown.status_code == 401
    assert unknown.json()["message"] == INVALID_TOKEN
    with api.db.transaction() as session:
        revoke_token(session, "tests", now=NOW)
    revoked = api.get("/folders")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["message"]


def test_a_body_of_the_wrong_shape_gets_the_usual_error_form(api: Api) -> None:
    response = api.post("/subscribers", {"remote_id": "R1"})
    assert response.status_code == 422
    assert response.json() == {
        "error": "InvalidInput",
        "message": "the request is not valid: body.email: Field required",
    }


# --- subscribers ----------------------------------------------------------------------------


def test_a_subscriber_is_created_then_updated_by_remote_id_and_found_by_either_key(
    api: Api,
) -> None:
    created = api.ok(
        api.post(
            "/subscribers",
            {
                "email": "Ann@Example.org",
                "remote_id": "R-1",
                "first_name": "Ann",
                "fields": {"city": "Oslo"},
            },
        ),
        201,
    )
    assert created["status"] == "subscribed" and created["source"] == "api"
    assert created["created_at"] == NOW.isoformat()
    updated = api.ok(
        api.post(
            "/subscribers",
            {"email": "ann.lee@example.org", "remote_id": "R-1", "last_name": "Lee"},
        )
    )
    assert updated["email"] == "ann.lee@example.org"
    assert (updated["first_name"], updated["last_name"]) == (None, "Lee")
    assert updated["fields"] == {"city": "Oslo"}
    assert api.ok(api.get("/subscribers/R-1")) == updated | {"history": []}
    assert api.ok(api.get("/subscribers/ANN.LEE@example.org")) == updated | {"history": []}
    assert len(api.ok(api.get("/subscribers"))) == 1
    missing = api.get("/subscribers/nobody@example.org")
    assert missing.status_code == 404 and "nobody@example.org" in missing.json()["message"]


def test_a_subscriber_with_a_bad_email_or_status_is_refused_with_the_reason(api: Api) -> None:
    bad_email = api.post("/subscribers", {"email": "not-an-address"})
    assert bad_email.status_code == 422
    assert "'not-an-address' is not a valid email address" in bad_email.json()["message"]
    bad_status = api.post("/subscribers", {"email": "a@example.org", "status": "gone"})
    assert bad_status.status_code == 422 and "'gone'" in bad_status.json()["message"]
    assert api.ok(api.get("/subscribers")) == []


def test_status_changes_only_by_the_status_route_and_lists_filter_by_it(api: Api) -> None:
    _subscriber(api, "a@example.org", "A")
    _subscriber(api, "b@example.org")
    changed = api.ok(api.put("/subscribers/a@example.org/status", {"status": "unsubscribed"}))
    assert changed["status"] == "unsubscribed"
    # an upsert does not resubscribe: that takes the status route
    again = api.ok(api.post("/subscribers", {"email": "a@example.org", "status": "subscribed"}))
    assert again["status"] == "unsubscribed"
    unsubscribed = api.ok(api.get("/subscribers", status="unsubscribed"))
    assert [s["email"] for s in unsubscribed] == ["a@example.org"]
    bad = api.put("/subscribers/A/status", {"status": "gone"})
    assert bad.status_code == 422 and "'gone'" in bad.json()["message"]
    assert api.get("/subscribers", status="gone").status_code == 422
    resubscribed = api.ok(api.put("/subscribers/A/status", {"status": "subscribed"}))
    assert resubscribed["status"] == "subscribed"
    history = api.ok(api.get("/subscribers/A"))["history"]
    assert [(h["from"], h["to"], h["reason"]) for h in history] == [
        ("subscribed", "unsubscribed", "marketer"),
        ("unsubscribed", "subscribed", "marketer"),
    ]


def test_a_subscribers_record_shows_a_bounce_with_its_evidence(
    api: Api, marketing_settings: Settings, smtp_sink: SmtpSink
) -> None:
    add_readers(api.db)
    sent = send_to_readers(api.db, with_bounce_address(marketing_settings), smtp_sink)
    dsn = postfix_dsn(sent.messages["ann@example.org"].sender, "ann@example.org")
    policy = BouncePolicy.from_settings(marketing_settings)
    taken = take_in(api.db, policy, dsn, source="file", now=NOW)

    record = api.ok(api.get("/subscribers/ann@example.org"))

    assert record["status"] == "bounced"
    assert record["history"] == [
        {
            "at": NOW.isoformat(),
            "from": "subscribed",
            "to": "bounced",
            "reason": "hard_bounce",
            "evidence": {
                "kind": "hard",
                "mailing": sent.mailing_id,
                "status_code": "5.1.1",
                "diagnostic": "550 5.1.1 <ann@example.org>: Recipient address rejected: User "
                "unknown in local recipient table",
                "message": taken.message_id,
            },
        }
    ]


CSV_WITH_BAD_ROWS = (
    "email,remote_id,first_name,last_name,status,plan\n"
    "ann@example.org,R-1,Ann,Lee,,gold\n"
    "not-an-address,R-2,Bob,,,\n"
    "cy@example.org,,Cy,,gone,\n"
    "dee@example.org,,Dee,,bounced,\n"
)


def test_a_strict_csv_import_with_bad_rows_writes_nothing_and_names_them(api: Api) -> None:
    response = api.client.post(
        "/api/subscribers/import",
        params={"strict": "true"},
        content=CSV_WITH_BAD_ROWS.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "ImportRejected"
    assert [row["line"] for row in body["rejected"]] == [3, 4]
    assert "not-an-address" in body["rejected"][0]["reason"]
    assert "'gone'" in body["rejected"][1]["reason"]
    assert api.ok(api.get("/subscribers")) == []


def test_a_csv_import_loads_the_good_rows_and_reports_the_bad(api: Api) -> None:
    response = api.client.post(
        "/api/subscribers/import",
        content=CSV_WITH_BAD_ROWS.encode(),
        headers={"Content-Type": "text/csv"},
    )
    report = api.ok(response)
    assert (report["imported"], report["updated"]) == (2, 0)
    assert [row["line"] for row in report["rejected"]] == [3, 4]
    listed = {s["email"]: s for s in api.ok(api.get("/subscribers"))}
    assert set(listed) == {"ann@example.org", "dee@example.org"}
    assert listed["ann@example.org"]["fields"] == {"plan": "gold"}
    assert listed["dee@example.org"]["status"] == "bounced"
    missing_column = api.client.post("/api/subscribers/import", content=b"email,first_name\n")
    assert missing_column.status_code == 422
    assert "remote_id" in missing_column.json()["message"]


# --- folders and static groups --------------------------------------------------------------


def test_static_groups_are_created_in_folders_and_members_added_and_removed(api: Api) -> None:
    for index in range(3):
        _subscriber(api, f"s{index}@example.org", f"R-{index}")
    assert api.ok(api.post("/folders", {"name": "Events"}), 201)["group_count"] == 0
    assert api.post("/folders", {"name": "events"}).status_code == 409
    api.ok(api.post("/groups", {"name": "Attendees", "folder": "Events"}), 201)
    api.ok(api.post("/groups", {"name": "Newsletter"}), 201)
    assert api.post("/groups", {"name": "ATTENDEES"}).status_code == 409
    assert api.post("/groups", {"name": "X", "folder": "Nowhere"}).status_code == 404

    added = api.ok(
        api.post(
            "/groups/Attendees/members",
            {
                "members": [
                    {"email": "s0@example.org"},
                    {"remote_id": "R-1"},
                    {"remote_id": "R-404"},
                    {"email": "s0@example.org"},
                    {},
                ]
            },
        )
    )
    assert (added["added"], added["already_members"]) == (2, 0)
    assert [row["line"] for row in added["rejected"]] == [3, 5]
    assert "R-404" in added["rejected"][0]["reason"]
    again = api.ok(api.post("/groups/Attendees/members", {"members": [{"remote_id": "R-1"}]}))
    assert (again["added"], again["already_members"]) == (0, 1)
    assert _member_emails(api, "attendees") == {"s0@example.org", "s1@example.org"}

    folders = {f["name"]: f["group_count"] for f in api.ok(api.get("/folders"))}
    assert folders == {"Main": 1, "Events": 1}
    in_events = api.ok(api.get("/groups", folder="Events"))
    assert [(g["name"], g["kind"], g["member_count"]) for g in in_events] == [
        ("Attendees", "static", 2)
    ]

    removed = api.ok(
        api.post(
            "/groups/Attendees/members/remove",
            {"members": [{"email": "s1@example.org"}, {"remote_id": "R-2"}]},
        )
    )
    assert (removed["removed"], removed["not_members"], removed["rejected"]) == (1, 1, [])
    assert api.ok(api.get("/groups/Attendees"))["member_count"] == 1
    assert api.get("/groups/Nothing/members").status_code == 404


def test_a_strict_member_change_with_a_bad_reference_changes_nothing(api: Api) -> None:
    _subscriber(api, "a@example.org")
    api.ok(api.post("/groups", {"name": "G"}), 201)
    members = {"members": [{"email": "a@example.org"}, {"email": "b@example.org"}]}
    refused = api.post("/groups/G/members", members, strict="true")
    assert refused.status_code == 422, refused.text
    assert refused.json()["rejected"] == [
        {"line": 2, "reason": "no subscriber has the email 'b@example.org'"}
    ]
    assert api.ok(api.get("/groups/G"))["member_count"] == 0


# --- compound groups ------------------------------------------------------------------------

MEMBERSHIP = {
    "A": {1, 2, 3, 4},
    "B": {3, 4, 5, 6},
    "X": {4, 6},
    "Y": {2, 4, 5},
}


@pytest.fixture
def static_groups(api: Api) -> dict[str, set[str]]:
    """Subscribers s1..s7 and static groups A, B, X, Y; each group's emails."""
    for number in range(1, 8):
        _subscriber(api, f"s{number}@example.org", f"R-{number}")
    emails = {
        name: {f"s{number}@example.org" for number in numbers}
        for name, numbers in MEMBERSHIP.items()
    }
    for name, members in emails.items():
        _static_group(api, name, sorted(members))
    return emails


def _combine(sets: list[set[str]], mode: str) -> set[str]:
    return set.intersection(*sets) if mode == "all" else set.union(*sets)


@pytest.mark.parametrize("include_mode", ["all", "any"])
@pytest.mark.parametrize("exclude_mode", ["all", "any"])
def test_a_compound_group_has_the_included_minus_the_excluded_members(
    api: Api, static_groups: dict[str, set[str]], include_mode: str, exclude_mode: str
) -> None:
    expected = _combine([static_groups["A"], static_groups["B"]], include_mode) - _combine(
        [static_groups["X"], static_groups["Y"]], exclude_mode
    )
    created = api.ok(
        api.post(
            "/groups/compound",
            {
                "name": "C",
                "include": {"groups": ["A", "B"], "mode": include_mode},
                "exclude": {"groups": ["X", "Y"], "mode": exclude_mode},
            },
        ),
        201,
    )
    assert created["kind"] == "compound"
    assert created["include"] == {"groups": ["A", "B"], "mode": include_mode}
    assert created["exclude"] == {"groups": ["X", "Y"], "mode": exclude_mode}
    assert created["member_count"] == len(expected)
    assert _member_emails(api, "C") == expected
    listed = {g["name"]: g["member_count"] for g in api.ok(api.get("/groups"))}
    assert listed["C"] == len(expected)


def test_a_nested_compound_follows_changes_to_the_groups_beneath_it(
    api: Api, static_groups: dict[str, set[str]]
) -> None:
    inner = {"name": "Inner", "include": {"groups": ["A", "B"], "mode": "any"}}
    api.ok(api.post("/groups/compound", inner), 201)
    outer = {
        "name": "Outer",
        "include": {"groups": ["Inner"], "mode": "all"},
        "exclude": {"groups": ["X"], "mode": "any"},
    }
    expected = (static_groups["A"] | static_groups["B"]) - static_groups["X"]
    assert api.ok(api.post("/groups/compound", outer), 201)["member_count"] == len(expected)
    assert _member_emails(api, "Outer") == expected

    changed = api.ok(
        api.put("/groups/Inner/compound", {"include": {"groups": ["A", "Y"], "mode": "all"}})
    )
    assert changed["include"] == {"groups": ["A", "Y"], "mode": "all"} and "exclude" not in changed
    expected = (static_groups["A"] & static_groups["Y"]) - static_groups["X"]
    assert _member_emails(api, "Outer") == expected
    assert api.ok(api.get("/groups/Outer"))["member_count"] == len(expected)
    assert api.post("/groups/A/members", {"members": []}).status_code == 200
    refused = api.post("/groups/Outer/members", {"members": [{"email": "s1@example.org"}]})
    assert refused.status_code == 422 and "compound" in refused.json()["message"]


def test_a_compound_that_would_contain_itself_is_refused_with_the_cycle(
    api: Api, static_groups: dict[str, set[str]]
) -> None:
    api.ok(
        api.post("/groups/compound", {"name": "P", "include": {"groups": ["A"], "mode": "any"}}),
        201,
    )
    api.ok(
        api.post("/groups/compound", {"name": "Q", "include": {"groups": ["P"], "mode": "any"}}),
        201,
    )
    cycle = api.put("/groups/P/compound", {"include": {"groups": ["A", "Q"], "mode": "any"}})
    assert cycle.status_code == 422
    assert "P → Q → P" in cycle.json()["message"]
    assert api.ok(api.get("/groups/P"))["include"]["groups"] == ["A"]
    bad_mode = api.post(
        "/groups/compound", {"name": "R", "include": {"groups": ["A"], "mode": "some"}}
    )
    assert bad_mode.status_code == 422 and "'some'" in bad_mode.json()["message"]
    unknown = api.post(
        "/groups/compound", {"name": "R", "include": {"groups": ["Z"], "mode": "all"}}
    )
    assert unknown.status_code == 404 and "'Z'" in unknown.json()["message"]
    assert api.get("/groups/R").status_code == 404


def test_deleting_a_group_a_compound_uses_is_refused_naming_the_compound(
    api: Api, static_groups: dict[str, set[str]]
) -> None:
    compound = {"name": "Uses B", "include": {"groups": ["A"], "mode": "any"}}
    compound["exclude"] = {"groups": ["B"], "mode": "any"}
    api.ok(api.post("/groups/compound", compound), 201)
    refused = api.delete("/groups/B")
    assert refused.status_code == 409
    assert "'Uses B'" in refused.json()["message"]
    assert api.ok(api.get("/groups/B"))["member_count"] == len(static_groups["B"])

    assert api.delete("/groups/Uses B").status_code == 204
    assert api.delete("/groups/B").status_code == 204
    assert api.get("/groups/B").status_code == 404
    assert api.delete("/groups/B").status_code == 404


# --- ids in paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["2147483648", "9223372036854775808", "%C2%B3", "0"])
def test_an_id_no_row_can_have_gets_422_in_the_error_shape(api: Api, bad_id: str) -> None:
    response = api.get(f"/reports/mailings/{bad_id}")

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "InvalidInput"
    assert body["message"].startswith("the request is not valid: path.mailing_id: ")


@pytest.mark.parametrize("bad_id", ["2147483648", "9223372036854775808", "%C2%B3", "\u0663"])
def test_a_campaign_named_by_an_id_no_row_can_have_is_not_found(api: Api, bad_id: str) -> None:
    for method, path in (
        ("get", f"/api/campaigns/{bad_id}"),
        ("post", f"/api/campaigns/{bad_id}/activate"),
        ("post", f"/api/campaigns/{bad_id}/deactivate"),
        ("get", f"/api/campaigns/{bad_id}/enrollments"),
    ):
        response = api.client.request(method, path)

        assert response.status_code == 404, (path, response.text)
        assert response.json() == {
            "error": "NotFound",
            "message": f"no campaign is named {unquote(bad_id)!r}",
        }


# --- Integration Settings -------------------------------------------------------------------

PASSWORD = "Pw-unmistakable-5e4d3c2b1a"


@dataclass
class Community:
    """A community API on loopback and a live credential for it."""

    url: str
    iam_key: str
    password: str


@pytest.fixture
def community(community_db: Database, settings: Settings) -> Iterator[Community]:
    with community_db.transaction() as session:
        add_member(session, "admin", email="admin@example.org", is_super_admin=True)
        issued = create_credential(session, name="Marketing", by="admin", now=NOW)
    with serve_on_loopback(create_community_app(community_db, settings)) as base_url:
        yield Community(f"{base_url}/", issued.credential.iam_key, issued.password)


def test_integration_settings_are_changed_and_shown_without_the_password(api: Api) -> None:
    assert api.ok(api.get("/integration"))["configured"] is False
    first = api.put("/integration", {"url": "https://community.example.org", "iam_key": "K"})
    assert first.status_code == 422 and "password" in first.json()["message"]
    saved = api.put(
        "/integration",
        {"url": "https://community.example.org/", "iam_key": "K", "password": PASSWORD},
    )
    view = api.ok(saved)
    assert view["configured"] and view["password_set"] and not view["active"]
    assert view["base_url"] == "https://community.example.org"
    assert view["edition"] == "online-community" and "password" not in view
    switched = api.ok(api.put("/integration", {"active": True, "edition": "platform"}))
    assert (switched["active"], switched["edition"], switched["iam_key"]) == (True, "platform", "K")
    shown = api.get("/integration")
    assert api.ok(shown) == switched
    assert PASSWORD not in saved.text + shown.text
    bad = api.put("/integration", {"edition": "enterprise"})
    assert bad.status_code == 422 and "'enterprise'" in bad.json()["message"]


def test_the_connection_test_reports_success_or_the_exact_failure(
    api: Api, community: Community
) -> None:
    unconfigured = api.post("/integration/test")
    assert unconfigured.status_code == 409
    assert unconfigured.json()["reason"] == "not_configured"

    configured = {
        "url": community.url,
        "iam_key": community.iam_key,
        "password": community.password,
    }
    api.ok(api.put("/integration", configured))
    inactive = api.post("/integration/test")
    assert inactive.status_code == 409 and inactive.json()["reason"] == "inactive"

    api.ok(api.put("/integration", {"active": True}))
    assert api.ok(api.post("/integration/test")) == {
        "ok": True,
        "base_url": community.url.rstrip("/"),
        "list_count": 0,
    }

    api.ok(api.put("/integration", {"password": PASSWORD}))
    refused = api.post("/integration/test")
    assert refused.status_code == 502
    body = refused.json()
    assert (body["error"], body["ok"], body["reason"]) == (
        "ConnectionFailed",
        False,
        "unauthorized",
    )
    assert "authentication failed" in body["detail"]
    assert PASSWORD not in refused.text


def test_a_server_built_without_the_connection_says_it_cannot_test_it(
    marketing_db: Database, marketing_settings: Settings, api: Api
) -> None:
    with (
        serve_on_loopback(create_marketing_app(marketing_db, marketing_settings)) as base_url,
        httpx.Client(base_url=base_url, headers=api.client.headers) as client,
    ):
        response = client.post("/api/integration/test")
    assert response.status_code == 503
    assert "without the connection" in response.json()["message"]


# --- OpenAPI --------------------------------------------------------------------------------


def test_the_mounted_openapi_document_lists_the_routes_and_the_bearer_scheme(
    api: Api, settings: Settings, marketing_db: Database
) -> None:
    mounted = create_app(settings.model_copy(update={"marketing_db_url": marketing_db.url}))
    with (
        serve_on_loopback(mounted) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        schema = client.get("/marketing/openapi.json").json()
        folders = client.get(
            "/marketing/api/folders", headers={"Authorization": f"Bearer {api.token}"}
        )
        anonymous = client.get("/marketing/api/folders")
    routes = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    assert routes >= API_ROUTES
    assert schema["components"]["securitySchemes"]["AdminToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["AdminToken"]["description"],
    }
    for method, path in API_ROUTES:
        operation = schema["paths"][path][method]
        assert operation["security"] == [{"AdminToken": []}], (method, path)
        assert "401" in operation["responses"], (method, path)
    csv_body = schema["paths"]["/api/subscribers/import"]["post"]["requestBody"]
    assert "text/csv" in csv_body["content"]
    assert folders.status_code == 200 and [f["name"] for f in folders.json()] == ["Main"]
    assert anonymous.status_code == 401
