"""The community API over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import insert, select, update

from kith.app import create_app
from kith.community.app import create_community_app
from kith.community.credentials import create_credential, revoke_credential
from kith.community.lists import create_list
from kith.community.models import Member
from kith.config import Settings
from kith.db import Database
from kith.web.loopback import serve_on_loopback
from tests.support.community_world import (
    NOW,
    add_community,
    add_events,
    add_list_unchecked,
    add_member,
    join,
)
from tests.support.fake_clock import FakeClock

DAY = timedelta(days=1)
MEMBER_FIELDS = (
    "contact_key",
    "legacy_contact_key",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "member_type",
    "joined_at",
    "last_login_at",
    "activity",
    "communities",
)


@dataclass
class Api:
    """A running community app, a client already holding a valid credential, and its clock."""

    client: httpx.Client
    base_url: str
    clock: FakeClock
    iam_key: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"HLIAMKey": self.iam_key, "HLPassword": self.password}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers=self.headers)


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_failure_limit": 3, "api_failure_window_seconds": 60})


@pytest.fixture
def api(community_db: Database, api_settings: Settings) -> Iterator[Api]:
    with community_db.transaction() as session:
        add_member(session, "admin", email="admin@example.org", is_super_admin=True)
        issued = create_credential(session, name="Marketing", by="admin", now=NOW)
    app = create_community_app(community_db, api_settings)
    clock = FakeClock(NOW)
    app.state.clock = clock
    with serve_on_loopback(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        yield Api(client, base_url, clock, issued.credential.iam_key, issued.password)


def _add_members(db: Database, count: int, member_type: str, start: int) -> None:
    rows = [
        {
            "contact_key": f"C{n:05d}",
            "legacy_contact_key": f"L{n:05d}",
            "email": f"m{n}@example.org",
            "first_name": "First",
            "last_name": f"Last{n}",
            "member_type": member_type,
            "joined_at": NOW - 400 * DAY,
            "custom_fields": {},
        }
        for n in range(start, start + count)
    ]
    with db.transaction() as session:
        session.execute(insert(Member), rows)


def _list(db: Database, name: str, criteria: dict[str, Any]) -> str:
    with db.transaction() as session:
        return create_list(session, name=name, criteria=criteria, by="admin", now=NOW).list_key


def _all_pages(api: Api, key: str, page_size: int, **params: Any) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = []
    token = None
    while True:
        response = api.get(
            f"/api/v1/lists/{key}/members",
            page_size=page_size,
            **({"page_token": token} if token else params),
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["members"]) <= page_size
        members += page["members"]
        token = page["next_page_token"]
        if token is None:
            return members


@pytest.fixture
def full_members(api: Api, community_db: Database) -> str:
    """2,600 'Full' members interleaved with 400 'Student' ones; the key of the 'Full' list."""
    for block in range(10):
        _add_members(community_db, 260, "Full", start=block * 300)
        _add_members(community_db, 40, "Student", start=block * 300 + 260)
    return _list(community_db, "Full", {"field": "member_type", "op": "eq", "value": "Full"})


# --- authentication -------------------------------------------------------------------------


def test_a_request_without_the_headers_gets_401_json(api: Api) -> None:
    response = api.client.get("/api/v1/lists")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "AuthenticationFailed"
    assert "HLIAMKey" in response.json()["message"]


@pytest.mark.parametrize("case", ["wrong password", "unknown key", "revoked key"])
def test_bad_credentials_get_the_same_401_json(api: Api, community_db: Database, case: str) -> None:
    headers = {
        "wrong password": {"HLIAMKey": api.iam_key, "HLPassword": "wrong"},
        "unknown key": {"HLIAMKey": "f" * 32, "HLPassword": api.password},
        "revoked key": api.headers,
    }[case]
    if case == "revoked key":
        with community_db.transaction() as session:
            revoke_credential(session, api.iam_key, by="admin", now=NOW)
    response = api.client.get("/api/v1/lists", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": "AuthenticationFailed",
        "message": "authentication failed: check the HLIAMKey and HLPassword headers",
    }


def test_repeated_failures_throttle_their_address_even_with_the_right_password_for_a_window(
    api: Api,
) -> None:
    wrong = {"HLIAMKey": api.iam_key, "HLPassword": "wrong"}
    statuses = [api.client.get("/api/v1/lists", headers=wrong).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    api.clock.now = NOW + timedelta(seconds=20)
    throttled = api.get("/api/v1/lists")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "40"
    assert throttled.json()["error"] == "Throttled"
    api.clock.now = NOW + timedelta(seconds=61)
    assert api.get("/api/v1/lists").status_code == 200


def test_an_attacker_who_knows_the_key_is_throttled_while_the_owner_still_gets_in(
    api: Api,
) -> None:
    attacker = httpx.Client(
        base_url=api.base_url, transport=httpx.HTTPTransport(local_address="127.0.0.2")
    )
    guess = {"HLIAMKey": api.iam_key, "HLPassword": "guess"}
    # claiming to be the owner's address in a header does not make it so
    posing = {**api.headers, "X-Forwarded-For": "127.0.0.1"}
    with attacker:
        statuses = [attacker.get("/api/v1/lists", headers=guess).status_code for _ in range(3)]
        api.clock.now = NOW + timedelta(seconds=20)
        locked_out = [attacker.get("/api/v1/lists", headers=h) for h in (guess, posing)]
        owner = api.get("/api/v1/lists")

    assert statuses == [401, 401, 401]
    assert [response.status_code for response in locked_out] == [429, 429]
    assert [response.headers["Retry-After"] for response in locked_out] == ["40", "40"]
    assert owner.status_code == 200


def test_header_names_are_case_insensitive(api: Api) -> None:
    headers = {"hliamkey": api.iam_key, "HLPASSWORD": api.password}
    assert api.client.get("/api/v1/lists", headers=headers).status_code == 200


# --- lists and members ----------------------------------------------------------------------


def test_lists_come_with_key_name_update_time_and_member_count(api: Api, full_members: str) -> None:
    response = api.get("/api/v1/lists")
    assert response.status_code == 200
    assert response.json() == [
        {
            "key": full_members,
            "name": "Full",
            "created_at": NOW.isoformat(),
            "updated_at": NOW.isoformat(),
            "member_count": 2600,
            "error": None,
        }
    ]
    uncounted = api.get("/api/v1/lists", counts="false").json()
    assert [(item["key"], item["member_count"]) for item in uncounted] == [(full_members, None)]


@pytest.mark.parametrize("page_size", [700, 1001])
def test_pages_return_every_member_exactly_once(
    api: Api, full_members: str, page_size: int
) -> None:
    members = _all_pages(api, full_members, page_size)
    keys = [member["contact_key"] for member in members]
    assert len(keys) == 2600 and len(set(keys)) == 2600
    expected = {f"C{block * 300 + n:05d}" for block in range(10) for n in range(260)}
    assert set(keys) == expected


def test_the_default_page_is_a_thousand_members_and_the_last_page_has_no_token(
    api: Api, full_members: str
) -> None:
    first = api.get(f"/api/v1/lists/{full_members}/members").json()
    assert len(first["members"]) == 1000 and first["next_page_token"]
    whole = api.get(f"/api/v1/lists/{full_members}/members", page_size=2600).json()
    assert len(whole["members"]) == 2600 and whole["next_page_token"] is None


def test_ndjson_streams_exactly_what_the_pages_return(api: Api, full_members: str) -> None:
    paged = _all_pages(api, full_members, 1001)
    with api.client.stream(
        "GET", f"/api/v1/lists/{full_members}/members.ndjson", headers=api.headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        streamed = [orjson.loads(line) for line in response.iter_lines() if line]
    assert streamed[:-1] == paged
    # tells a complete stream from a cut one, and where the list's change log stood
    assert streamed[-1] == {"end": {"count": len(paged), "cursor": 0}}


def test_a_member_carries_its_fields_and_activity_summaries_at_as_of(
    api: Api, community_db: Database
) -> None:
    as_of = NOW - 10 * DAY
    with community_db.transaction() as session:
        ann = add_member(
            session,
            "ann",
            legacy_contact_key="AMS-1",
            first_name="Ann",
            last_name="Lee",
            company="Acme",
            title="CEO",
            member_type="Full",
            joined_at=NOW - 400 * DAY,
            last_login_at=NOW - 2 * DAY,
        )
        add_events(session, ann, "discussion_reply", as_of - 40 * DAY, as_of - 5 * DAY, as_of - DAY)
        add_events(session, ann, "login", as_of - 100 * DAY, as_of + DAY)  # the last is after
        add_events(session, ann, "event_attended", NOW - DAY)  # only after as_of
        for name in ("Research", "Chapter North"):
            join(session, ann, add_community(session, name))
    key = _list(community_db, "Ann", {"field": "contact_key", "op": "eq", "value": "ann"})
    page = api.get(f"/api/v1/lists/{key}/members", as_of=as_of.isoformat()).json()
    assert page["as_of"] == as_of.isoformat()
    assert page["members"] == [
        {
            "contact_key": "ann",
            "legacy_contact_key": "AMS-1",
            "email": "ann@example.org",
            "first_name": "Ann",
            "last_name": "Lee",
            "company": "Acme",
            "title": "CEO",
            "member_type": "Full",
            "joined_at": (NOW - 400 * DAY).isoformat(),
            "last_login_at": (NOW - 2 * DAY).isoformat(),
            "activity": {
                "discussion_reply": {
                    "count": 3,
                    "count_30d": 2,
                    "last_at": (as_of - DAY).isoformat(),
                },
                "login": {"count": 1, "count_30d": 0, "last_at": (as_of - 100 * DAY).isoformat()},
            },
            "communities": ["Chapter North", "Research"],
        }
    ]
    plain = api.get(f"/api/v1/lists/{key}/members", details="false").json()["members"]
    assert plain == [
        {
            name: value
            for name, value in page["members"][0].items()
            if name not in ("activity", "communities", "joined_at", "last_login_at")
        }
        | {"joined_at": (NOW - 400 * DAY).isoformat(), "last_login_at": (NOW - 2 * DAY).isoformat()}
    ]


def test_a_member_without_activity_has_an_empty_summary_and_null_dates(
    api: Api, community_db: Database
) -> None:
    with community_db.transaction() as session:
        add_member(session, "bob")
    key = _list(community_db, "Bob", {"field": "contact_key", "op": "eq", "value": "bob"})
    [member] = api.get(f"/api/v1/lists/{key}/members").json()["members"]
    assert tuple(member) == MEMBER_FIELDS
    assert member["activity"] == {} and member["communities"] == []
    assert member["joined_at"] is None


def test_every_page_evaluates_the_list_at_the_instant_of_the_first(
    api: Api, community_db: Database
) -> None:
    with community_db.transaction() as session:
        for n in range(5):
            add_events(session, add_member(session, f"recent{n}"), "login", NOW - DAY)
    key = _list(community_db, "Recent", {"activity": "login", "within_days": 30})
    first = api.get(f"/api/v1/lists/{key}/members", page_size=2).json()
    api.clock.now = NOW + 60 * DAY  # by now nobody logged in within 30 days
    assert api.get(f"/api/v1/lists/{key}/members").json()["members"] == []
    rest = api.get(
        f"/api/v1/lists/{key}/members", page_size=2, page_token=first["next_page_token"]
    ).json()
    assert [m["contact_key"] for m in rest["members"]] == ["recent2", "recent3"]
    assert rest["as_of"] == NOW.isoformat()


def test_a_tampered_or_foreign_page_token_is_refused_with_400(
    api: Api, community_db: Database, full_members: str
) -> None:
    token = api.get(f"/api/v1/lists/{full_members}/members", page_size=10).json()["next_page_token"]
    payload, signature = token.split(".")
    forged = orjson.loads(_unb64(payload))
    forged["a"] = 0
    tampered = f"{_b64(orjson.dumps(forged))}.{signature}"
    other = _list(community_db, "Students", {"field": "member_type", "op": "eq", "value": "X"})
    for key, bad in ((full_members, tampered), (full_members, "garbage"), (other, token)):
        response = api.get(f"/api/v1/lists/{key}/members", page_token=bad)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "InvalidPageToken"
        assert response.json()["message"].startswith("invalid page token")


@pytest.mark.parametrize("page_size", [0, 10_001])
def test_a_page_size_outside_1_to_10000_is_refused_with_422(
    api: Api, full_members: str, page_size: int
) -> None:
    response = api.get(f"/api/v1/lists/{full_members}/members", page_size=page_size)
    assert response.status_code == 422


def test_an_unknown_list_is_404_json(api: Api) -> None:
    for path in ("/api/v1/lists/nope/members", "/api/v1/lists/nope/members.ndjson"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["error"] == "NotFound"


def test_an_unparseable_as_of_is_refused_with_422(api: Api, full_members: str) -> None:
    response = api.get(f"/api/v1/lists/{full_members}/members", as_of="yesterday")
    assert response.status_code == 422
    assert "as_of" in response.json()["message"]


# --- activity --------------------------------------------------------------------------------


def test_one_posted_event_is_recorded_and_posting_it_again_is_a_duplicate(
    api: Api, community_db: Database
) -> None:
    with community_db.transaction() as session:
        add_member(session, "ann")
    event = {
        "event_id": "e-1",
        "contact_key": "ann",
        "type": "thread_started",
        "occurred_at": "2026-06-14T09:30:00Z",
    }
    first = api.client.post("/api/v1/activity", json=event, headers=api.headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"imported": 1, "updated": 0, "duplicates": 0, "rejected": []}
    again = api.client.post("/api/v1/activity", json=event, headers=api.headers)
    assert again.json()["duplicates"] == 1 and again.json()["imported"] == 0


def test_a_batch_records_the_good_events_and_reports_the_bad_ones_with_207(
    api: Api, community_db: Database
) -> None:
    with community_db.transaction() as session:
        add_member(session, "ann")
    key = _list(community_db, "Ann", {"field": "contact_key", "op": "eq", "value": "ann"})
    events = [
        {"contact_key": "ann", "type": "login", "occurred_at": "2026-06-10T08:00:00"},
        {"contact_key": "nobody", "type": "login", "occurred_at": "2026-06-10T08:00:00"},
        {"contact_key": "ann", "type": "login", "occurred_at": "2026-03-01"},
        {"contact_key": "ann", "type": "dancing", "occurred_at": "2026-06-10"},
    ]
    response = api.client.post("/api/v1/activity", json={"events": events}, headers=api.headers)
    assert response.status_code == 207, response.text
    report = response.json()
    assert report["imported"] == 2
    assert [(row["line"], "nobody" in row["reason"]) for row in report["rejected"]] == [
        (2, True),
        (4, False),
    ]
    assert "dancing" in report["rejected"][1]["reason"]
    [member] = api.get(f"/api/v1/lists/{key}/members").json()["members"]
    assert member["activity"] == {
        "login": {"count": 2, "count_30d": 1, "last_at": "2026-06-10T08:00:00+00:00"}
    }


def test_more_than_10000_events_in_one_request_are_refused_and_nothing_is_recorded(
    api: Api, community_db: Database
) -> None:
    with community_db.transaction() as session:
        add_member(session, "ann")
    event = {"contact_key": "ann", "type": "login", "occurred_at": "2026-06-10"}
    response = api.client.post(
        "/api/v1/activity", json={"events": [event] * 10_001}, headers=api.headers
    )
    assert response.status_code == 422
    assert "at most 10,000" in response.json()["message"]
    key = _list(community_db, "Ann", {"field": "contact_key", "op": "eq", "value": "ann"})
    assert api.get(f"/api/v1/lists/{key}/members").json()["members"][0]["activity"] == {}


# --- List Builder over HTTP ------------------------------------------------------------------


def test_a_super_admins_credential_creates_updates_and_deletes_lists(api: Api) -> None:
    criteria = {"field": "member_type", "op": "eq", "value": "Full"}
    created = api.client.post(
        "/api/v1/lists", json={"name": "Full", "criteria": criteria}, headers=api.headers
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert created.json()["created_by"] == "admin"
    renamed = api.client.put(f"/api/v1/lists/{key}", json={"name": "All Full"}, headers=api.headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "All Full"
    assert renamed.json()["criteria"] == criteria
    deleted = api.client.delete(f"/api/v1/lists/{key}", headers=api.headers)
    assert deleted.status_code == 204
    assert api.get("/api/v1/lists").json() == []


def test_invalid_criteria_over_http_are_422_naming_the_node(api: Api) -> None:
    response = api.client.post(
        "/api/v1/lists",
        json={"name": "Bad", "criteria": {"all": [{"field": "nope", "op": "eq", "value": 1}]}},
        headers=api.headers,
    )
    assert response.status_code == 422
    assert "criteria.all[0]" in response.json()["message"]


def test_criteria_beyond_the_limits_are_422_naming_the_node_on_create_and_update(
    api: Api, full_members: str
) -> None:
    nested = {"field": "member_type", "op": "eq", "value": "Full"}
    for _ in range(600):
        nested = {"not": nested}
    many = {"field": "member_type", "op": "in", "value": [f"type {n}" for n in range(1_001)]}

    created = api.client.post(
        "/api/v1/lists", json={"name": "Deep", "criteria": nested}, headers=api.headers
    )
    updated = api.client.put(
        f"/api/v1/lists/{full_members}", json={"criteria": many}, headers=api.headers
    )

    assert created.status_code == 422, created.text
    assert created.json()["message"] == (
        "criteria" + ".not" * 20 + ": the criteria are nested more than 20 deep"
    )
    assert updated.status_code == 422, updated.text
    assert updated.json()["message"].startswith("criteria.field.value: 1,001 values")
    assert [item["name"] for item in api.get("/api/v1/lists").json()] == ["Full"]


def test_a_list_that_cannot_be_counted_shows_its_error_and_the_others_count(
    api: Api, community_db: Database, full_members: str
) -> None:
    with community_db.transaction() as session:
        add_list_unchecked(session, "Saved before the limits", {"any": [{"activity": "any"}] * 101})

    listed = api.get("/api/v1/lists")

    assert listed.status_code == 200
    assert [(item["name"], item["member_count"], item["error"]) for item in listed.json()] == [
        ("Full", 2600, None),
        (
            "Saved before the limits",
            None,
            "criteria.any[99]: the criteria have more than 100 conditions and groups",
        ),
    ]


def test_list_changes_are_403_once_the_credentials_creator_is_no_longer_a_super_admin(
    api: Api, community_db: Database, full_members: str
) -> None:
    with community_db.transaction() as session:
        session.execute(
            update(Member).where(Member.contact_key == "admin").values(is_super_admin=False)
        )
    body = {"name": "X", "criteria": {"field": "member_type", "op": "eq", "value": "Full"}}
    responses = [
        api.client.post("/api/v1/lists", json=body, headers=api.headers),
        api.client.put(f"/api/v1/lists/{full_members}", json=body, headers=api.headers),
        api.client.delete(f"/api/v1/lists/{full_members}", headers=api.headers),
    ]
    for response in responses:
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "PermissionDenied"
    assert [item["name"] for item in api.get("/api/v1/lists").json()] == ["Full"]


# --- OpenAPI ---------------------------------------------------------------------------------


def test_openapi_of_the_mounted_app_lists_the_paths_and_both_headers(
    api_settings: Settings, api: Api, full_members: str
) -> None:
    with (
        serve_on_loopback(create_app(api_settings)) as base_url,
        httpx.Client(base_url=base_url) as client,
    ):
        schema = client.get("/community/openapi.json").json()
        lists = client.get("/community/api/v1/lists", headers=api.headers)
    assert {
        "/api/v1/lists",
        "/api/v1/lists/{key}",
        "/api/v1/lists/{key}/members",
        "/api/v1/lists/{key}/members.ndjson",
        "/api/v1/activity",
    } <= set(schema["paths"])
    assert set(schema["components"]["securitySchemes"]) == {"HLIAMKey", "HLPassword"}
    operation = schema["paths"]["/api/v1/lists/{key}/members"]["get"]
    assert operation["security"] == [{"HLIAMKey": [], "HLPassword": []}]
    assert lists.status_code == 200 and lists.json()[0]["key"] == full_members


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_full_read_then_the_changes_after_its_cursor_follow_the_list(
    community_db: Database, api: Api
) -> None:
    with community_db.transaction() as session:
        add_member(session, "m1", legacy_contact_key="L1", first_name="Mia")
        quiet = add_member(session, "m2", legacy_contact_key="L2")
    key = _list(community_db, "Informz Posted", {"activity": "thread_started", "within_days": 7})
    with community_db.transaction() as session:
        add_events(session, quiet, "thread_started", NOW - DAY)
    read = [
        orjson.loads(line) for line in api.get(f"/api/v1/lists/{key}/members.ndjson").iter_lines()
    ]
    assert [member["contact_key"] for member in read[:-1]] == ["m2"]
    cursor = read[-1]["end"]["cursor"]

    with community_db.transaction() as session:
        poster = session.scalars(select(Member).where(Member.contact_key == "m1")).one()
        add_events(session, poster, "thread_started", NOW)
    api.clock.now += DAY * 7  # m2's thread leaves the window; m1's is still in it

    as_last_passed = api.get(f"/api/v1/lists/{key}/changes", after=cursor, fresh="false")
    assert as_last_passed.json()["changes"] == []  # no pass since the read: nothing changed yet
    changes = api.get(f"/api/v1/lists/{key}/changes", after=cursor).json()  # a pass first
    assert [
        (c["change"], c["contact_key"], c["legacy_contact_key"]) for c in changes["changes"]
    ] == [
        ("removed", "m2", "L2"),
        ("added", "m1", "L1"),
    ]
    assert changes["changes"][1]["email"] == "m1@example.org"
    assert changes["more"] is False
    again = api.get(f"/api/v1/lists/{key}/changes", after=changes["cursor"]).json()
    assert again == {"changes": [], "cursor": changes["cursor"], "more": False}
    keys_only = api.get(f"/api/v1/lists/{key}/changes", after=cursor, keys_only="true").json()
    assert [
        {name: change[name] for name in ("change", "contact_key", "legacy_contact_key", "email")}
        for change in keys_only["changes"]
    ] == [
        {name: change[name] for name in ("change", "contact_key", "legacy_contact_key", "email")}
        for change in changes["changes"]
    ]
    assert changes["changes"][1]["first_name"] == "Mia"  # the member as the stream shows them
    assert keys_only["changes"][1]["first_name"] is None  # the keys alone, members not read
    assert keys_only["cursor"] == changes["cursor"]


def test_a_cursor_older_than_the_changes_kept_answers_410_gone(
    community_db: Database, api: Api, api_settings: Settings
) -> None:
    with community_db.transaction() as session:
        add_member(session, "m1", legacy_contact_key="L1")
    key = _list(
        community_db,
        "Informz Everyone",
        {"field": "contact_key", "op": "starts_with", "value": "m"},
    )
    lines = api.get(f"/api/v1/lists/{key}/members.ndjson").iter_lines()
    cursor = [orjson.loads(line) for line in lines][-1]["end"]["cursor"]
    with community_db.transaction() as session:
        add_member(session, "m2", legacy_contact_key="L2")
    assert len(api.get(f"/api/v1/lists/{key}/changes", after=cursor).json()["changes"]) == 1

    api.clock.now += DAY * (api_settings.list_changes_retention_days + 1)
    gone = api.get(f"/api/v1/lists/{key}/changes", after=cursor)

    assert gone.status_code == 410
    assert "read the list's members in full" in gone.json()["message"]
