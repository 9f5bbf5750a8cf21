"""Campaigns over the marketing REST API (uvicorn on loopback): define, activate, watch the
scheduler move people, change as a new version; refused definitions name the step."""

from __future__ import annotations

from typing import Any

from kith.config import Settings
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.scheduler import run_tick
from tests.integration.marketing.api.test_api import (  # noqa: F401  (fixtures)
    NOW,
    Api,
    _static_group,
    _subscriber,
    api,
    marketing_settings,
)

STEPS: list[dict[str, Any]] = [
    {"id": "hello", "mailing": "Hello"},
    {"id": "wait", "wait": {"days": 1}},
    {"id": "tag", "profile": {"add_to": "Welcomed"}},
]


def _world(client: Api) -> None:
    for email in ("ann@example.org", "bo@example.org"):
        _subscriber(client, email)
    _static_group(client, "Readers", ["ann@example.org", "bo@example.org"])
    _static_group(client, "Welcomed", [])
    with client.db.transaction() as session:
        draft = MailingDraft(name="Hello", subject="Hi", html="<p>Hi</p>", include=["Readers"])
        create_mailing(session, draft, now=NOW)


def test_a_campaign_defined_and_activated_over_the_api_moves_with_the_ticks(
    api: Api,  # noqa: F811  (the fixture)
    marketing_settings: Settings,  # noqa: F811
) -> None:
    _world(api)
    definition = {"name": "Hello", "activation": {"group": "Readers"}, "steps": STEPS}
    created = api.ok(api.post("/campaigns", definition), 201)
    assert created["status"] == "inactive" and created["version"] == 1
    assert api.ok(api.post(f"/campaigns/{created['id']}/activate"))["status"] == "active"

    run_tick(api.db, marketing_settings, now=NOW)
    view = api.ok(api.get("/campaigns/Hello"))
    assert view["enrolled"] == 2
    assert {s["id"]: s["outcomes"] for s in view["steps"]} == {
        "hello": {"sent": 2},
        "wait": {},
        "tag": {},
    }
    changed = {**definition, "steps": [*STEPS[:2], {"id": "tag", "profile": {"add_to": "Readers"}}]}
    result = api.ok(api.put("/campaigns/Hello", changed))
    assert result["new_version"] is False  # nobody reached "tag" yet

    run_tick(api.db, marketing_settings, now=NOW.replace(day=NOW.day + 1))
    enrollments = api.ok(api.get("/campaigns/Hello/enrollments"))
    assert [(e["email"], e["status"]) for e in enrollments] == [
        ("ann@example.org", "done"),
        ("bo@example.org", "done"),
    ]
    assert api.ok(api.post("/campaigns/Hello/deactivate"))["status"] == "inactive"


def test_an_invalid_campaign_is_refused_naming_the_step_and_an_unknown_one_is_404(
    api: Api,  # noqa: F811  (the fixture)
) -> None:
    _world(api)
    broken = {"name": "Broken", "activation": {"group": "Readers"}, "steps": [{"wait": {}}]}
    response = api.post("/campaigns", broken)
    assert response.status_code == 422
    assert response.json()["message"].startswith("step 1: a Wait is")
    assert api.ok(api.get("/campaigns")) == []
    assert api.get("/campaigns/Nope").status_code == 404


def test_deleting_a_group_a_campaign_or_mailing_uses_is_refused_and_campaigns_still_read(
    api: Api,  # noqa: F811  (the fixture)
) -> None:
    _world(api)
    definition = {"name": "Hello", "activation": {"group": "Readers"}, "steps": STEPS}
    api.ok(api.post("/campaigns", definition), 201)

    refused = api.delete("/groups/Welcomed")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "Conflict",
        "message": "the group 'Welcomed' is used by the campaign 'Hello' (step 'tag' of "
        "version 1); remove it from there first",
    }
    readers = api.delete("/groups/Readers")
    assert readers.status_code == 409, readers.text
    assert "the mailing 'Hello' (id " in readers.json()["message"]
    assert "the campaign 'Hello' (activation group)" in readers.json()["message"]
    (listed,) = api.ok(api.get("/campaigns"))
    assert listed["steps"][-1]["describe"] == "add to 'Welcomed'"
    assert api.ok(api.get("/campaigns/Hello")) == listed


def test_a_campaign_never_activated_is_deleted_and_one_that_ran_is_archived_over_the_api(
    api: Api,  # noqa: F811  (the fixture)
) -> None:
    _world(api)
    for name in ("Plan", "Hello"):
        definition = {"name": name, "activation": {"group": "Readers"}, "steps": STEPS}
        api.ok(api.post("/campaigns", definition), 201)
    api.ok(api.post("/campaigns/Hello/activate"))

    assert api.delete("/campaigns/Plan").status_code == 204
    refused = api.delete("/campaigns/Hello")
    assert refused.status_code == 409
    assert refused.json()["message"] == (
        "the campaign 'Hello' has run: archive it instead, which keeps who went through it"
    )
    archived = api.ok(api.post("/campaigns/Hello/archive"))
    assert archived["status"] == "inactive" and archived["archived_at"] is not None
    assert api.ok(api.get("/campaigns")) == []
    assert [view["name"] for view in api.ok(api.get("/campaigns", archived="true"))] == ["Hello"]
    assert api.post("/campaigns/Hello/activate").status_code == 409
    assert api.ok(api.post("/campaigns/Hello/unarchive"))["archived_at"] is None
    assert api.get("/campaigns/Plan").status_code == 404
