"""Refresh Target Group List over real HTTP: names, renames, removals, collisions, near-misses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kith.config import Settings
from kith.connection.client import ConnectionFailed
from kith.db import Database
from kith.marketing.groups.community import ONLINE_COMMUNITY
from kith.marketing.groups.target_groups import get_group, list_groups
from tests.support.connection_world import World, joined_world

ANYONE = {"field": "contact_key", "op": "is_not_empty"}


@pytest.fixture
def world(community_db: Database, marketing_db: Database, settings: Settings) -> Iterator[World]:
    with joined_world(community_db, marketing_db, settings) as joined:
        yield joined


def community_groups(world: World) -> dict[str, str | None]:
    """Group name -> list key, for the groups in Online Community."""
    with world.marketing.session() as session:
        return {
            summary.group.name: summary.group.list_key
            for summary in list_groups(session, folder=ONLINE_COMMUNITY)
        }


def test_the_first_refresh_creates_the_folder_and_a_group_per_prefixed_list(
    world: World,
) -> None:
    started = world.list("Informz Has Started Discussion Thread", ANYONE)
    world.list("Chapter Leads", ANYONE)
    world.list("Infromz Donors", ANYONE)
    world.list("Informz", ANYONE)

    report = world.refresh().as_json()

    assert report["added"] == [
        {"group": "Has Started Discussion Thread", "list": "Informz Has Started Discussion Thread"}
    ]
    not_taken = {item["list"]: (item["near_miss"], item["reason"]) for item in report["not_taken"]}
    assert not_taken["Chapter Leads"] == (False, "the name does not begin with Informz")
    assert not_taken["Infromz Donors"][0] is True
    assert "misspelling" in not_taken["Infromz Donors"][1]
    assert "only the prefix" in not_taken["Informz"][1]
    assert community_groups(world) == {"Has Started Discussion Thread": started}


def test_a_renamed_list_renames_its_group_and_keeps_its_members(world: World) -> None:
    world.members(("m1", "L1", "m1@example.org"))
    world.subscribers(("m1@example.org", "L1", "subscribed"))
    key = world.list("Informz Posted", {"field": "contact_key", "op": "eq", "value": "m1"})
    world.refresh()
    world.sync("Posted")

    world.rename_list(key, "Informz Posted This Month")
    report = world.refresh().as_json()

    assert report["renamed"] == [
        {"from": "Posted", "to": "Posted This Month", "list": "Informz Posted This Month"}
    ]
    assert community_groups(world) == {"Posted This Month": key}
    assert world.group_remote_ids("Posted This Month") == {"L1"}


def test_a_deleted_list_leaves_its_group_marked_source_removed(world: World) -> None:
    world.members(("m1", "L1", "m1@example.org"))
    world.subscribers(("m1@example.org", "L1", "subscribed"))
    key = world.list("Informz Posted", ANYONE)
    world.refresh()
    world.sync("Posted")

    world.delete_list(key)
    report = world.refresh().as_json()
    again = world.refresh().as_json()

    assert [item["group"] for item in report["removed"]] == ["Posted"]
    assert again["removed"] == []  # reported once, when it happens
    with world.marketing.session() as session:
        assert get_group(session, "Posted").source_removed_at == world.now
    assert world.group_remote_ids("Posted") == {"L1"}  # kept as it was


def test_a_list_that_loses_its_prefix_is_removed_then_restored_when_it_returns(
    world: World,
) -> None:
    key = world.list("Informz Posted", ANYONE)
    world.refresh()
    world.rename_list(key, "Posted")
    removed = world.refresh().as_json()
    world.rename_list(key, "Informz Posted")
    restored = world.refresh().as_json()

    assert [item["group"] for item in removed["removed"]] == ["Posted"]
    assert "no longer begins with Informz" in removed["removed"][0]["reason"]
    assert restored["restored"] == [{"group": "Posted", "list": "Informz Posted"}]
    with world.marketing.session() as session:
        assert get_group(session, "Posted").source_removed_at is None


def test_two_lists_wanting_one_name_are_both_kept_the_later_suffixed(world: World) -> None:
    first = world.list("Informz Donors", ANYONE)
    world.now = world.now.replace(minute=5)
    second = world.list("Informz: Donors", ANYONE)

    report = world.refresh().as_json()

    assert community_groups(world) == {"Donors": first, "Donors (2)": second}
    assert report["collisions"] == [
        {"list": "Informz: Donors", "group": "Donors (2)", "wanted": "Donors"}
    ]
    assert world.refresh().as_json()["renamed"] == []  # the suffix is stable


def test_a_refresh_needs_an_active_connection(world: World) -> None:
    world.configure(active=False)
    with pytest.raises(ConnectionFailed, match="not Active"):
        world.refresh()
