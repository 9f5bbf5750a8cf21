"""A community group's live/manual switch and sync history over the marketing REST API, with
the group synced from a community served on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete

from kith.clock import utcnow
from kith.config import Settings
from kith.connection.drift import check_drift
from kith.db import Database
from kith.marketing.models import GroupMember
from tests.integration.marketing.api.test_api import (  # noqa: F401  (fixtures)
    Api,
    api,
    marketing_settings,
)
from tests.support.connection_world import World, joined_world

TWO_POSTERS = {"field": "contact_key", "op": "in", "value": ["m1", "m2"]}


@pytest.fixture
def world(
    api: Api,  # noqa: F811  (the fixture)
    community_db: Database,
    marketing_db: Database,
    settings: Settings,
) -> Iterator[World]:
    """The API's marketing database joined to a community; the group Posters synced once."""
    with joined_world(community_db, marketing_db, settings) as joined:
        yield joined


def test_a_community_group_is_switched_to_manual_and_back_to_live(
    api: Api,  # noqa: F811  (the fixture)
    world: World,
) -> None:
    world.posters(2)
    assert api.ok(api.get("/groups/posters"))["live"] is True

    manual = api.ok(api.put("/groups/posters/live", {"live": False}))

    assert manual == {"group": "Posters", "live": False, "paused": None, "last_change": None}
    assert api.ok(api.get("/groups/Posters"))["live"] is False
    assert api.ok(api.get("/groups"))[0]["live"] is False
    assert world.live_pass() == []
    live = api.ok(api.put("/groups/posters/live", {"live": True}))
    assert (live["live"], live["paused"]) == (
        True,
        "no worker is running (kith serve or kith worker)",
    )


def test_the_live_state_names_the_last_change_the_live_pass_applied(
    api: Api,  # noqa: F811  (the fixture)
    world: World,
) -> None:
    key = world.posters(2)
    world.change_criteria(key, TWO_POSTERS)
    [run] = world.live_pass()

    state = api.ok(api.get("/groups/posters/live"))

    assert run.finished_at is not None
    assert state["last_change"] == {
        "applied_at": run.finished_at.isoformat(),
        "added": 1,
        "removed": 0,
    }


def test_only_community_groups_have_a_switch(api: Api) -> None:  # noqa: F811
    api.ok(api.post("/groups", {"name": "Handpicked"}), 201)

    refused = api.put("/groups/handpicked/live", {"live": False})

    assert refused.status_code == 422
    assert "only community groups are live or manual" in refused.json()["message"]
    assert api.get("/groups/nobody/live").status_code == 404


def test_the_sync_history_shows_the_drift_a_drift_check_repaired(
    api: Api,  # noqa: F811  (the fixture)
    world: World,
) -> None:
    world.posters(2)
    with world.marketing.transaction() as session:  # the membership tampered with
        session.execute(delete(GroupMember))
    check_drift(world.marketing, world.settings, now=utcnow() + timedelta(hours=25))

    runs = api.ok(api.get("/groups/posters/sync-runs", limit=5))

    assert [(run["trigger"], run["mode"], run["drift"]) for run in runs] == [
        ("drift", "full", 1),
        ("manual", "full", None),
    ]
    assert runs[0]["added"] == 1
    assert api.get("/groups/posters/sync-runs", limit=0).status_code == 422
