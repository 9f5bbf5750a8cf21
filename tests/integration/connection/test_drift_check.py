"""The drift check over real HTTP: a live group read in full once a day records its drift."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select

from kith.config import Settings
from kith.connection.drift import RETRY_AFTER, check_drift
from kith.db import Database
from kith.marketing.models import GroupMember, Subscriber, TargetGroup
from tests.support.connection_world import World, joined_world

TWO_POSTERS = {"field": "contact_key", "op": "in", "value": ["m1", "m2"]}
A_DAY_ON = timedelta(hours=25)  # the syncs of the world finish at its `now`


@pytest.fixture
def world(community_db: Database, marketing_db: Database, settings: Settings) -> Iterator[World]:
    with joined_world(community_db, marketing_db, settings) as joined:
        yield joined


def test_after_live_changes_the_drift_check_finds_no_drift(world: World) -> None:
    key = world.posters(3)
    world.change_criteria(key, TWO_POSTERS)
    [live] = world.live_pass()

    [check] = check_drift(world.marketing, world.settings, now=world.now + A_DAY_ON)

    assert (live.trigger, live.mode, live.added) == ("live", "delta", 1)
    assert (check.trigger, check.mode, check.status) == ("drift", "full", "completed")
    assert (check.drift, check.added, check.removed) == (0, 0, 0)
    assert world.group_remote_ids("Posters") == {"L1", "L2"}


def test_changes_the_live_pass_has_not_applied_yet_are_applied_before_the_full_read(
    world: World,
) -> None:
    key = world.posters(3)
    world.change_criteria(key, TWO_POSTERS)  # no pass of the community's lists since

    [check] = check_drift(world.marketing, world.settings, now=world.now + A_DAY_ON)

    assert (check.trigger, check.drift) == ("drift", 0)
    assert world.group_remote_ids("Posters") == {"L1", "L2"}


def test_membership_tampered_with_in_the_database_is_recorded_as_drift_and_repaired(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    key = world.posters(3)
    world.change_criteria(key, TWO_POSTERS)
    world.live_pass()
    group_id = world.group_id("Posters")
    with world.marketing.transaction() as session:
        subscriber = {
            remote_id: subscriber_id
            for remote_id, subscriber_id in session.execute(
                select(Subscriber.remote_id, Subscriber.id)
            )
        }
        session.execute(
            delete(GroupMember).where(
                GroupMember.group_id == group_id, GroupMember.subscriber_id == subscriber["L1"]
            )
        )
        session.execute(
            insert(GroupMember).values(
                group_id=group_id, subscriber_id=subscriber["L3"], added_at=world.now
            )
        )

    [check] = check_drift(world.marketing, world.settings, now=world.now + A_DAY_ON)

    assert (check.drift, check.added, check.removed) == (2, 1, 1)
    assert "the full read added 1 and removed 1 members" in caplog.text
    assert world.group_remote_ids("Posters") == {"L1", "L2"}


def test_a_group_read_in_full_within_the_period_is_not_checked(world: World) -> None:
    world.posters(3)

    assert check_drift(world.marketing, world.settings, now=world.now + timedelta(hours=23)) == []


def test_a_manual_group_is_neither_followed_nor_checked(world: World) -> None:
    key = world.posters(3)
    with world.marketing.transaction() as session:
        session.get_one(TargetGroup, world.group_id("Posters")).live = False
    world.change_criteria(key, TWO_POSTERS)

    live = world.live_pass()
    checked = check_drift(world.marketing, world.settings, now=world.now + A_DAY_ON)

    assert (live, checked) == ([], [])
    assert world.group_remote_ids("Posters") == {"L1"}


def test_a_check_that_failed_is_not_tried_again_within_the_hour(world: World) -> None:
    world.posters(3)
    world.configure(password="not the password")

    first = check_drift(world.marketing, world.settings, now=world.now + A_DAY_ON)
    again = check_drift(world.marketing, world.settings, now=world.now + A_DAY_ON)
    later = check_drift(world.marketing, world.settings, now=world.now + A_DAY_ON + RETRY_AFTER)

    assert [(run.trigger, run.status) for run in first] == [("drift", "failed")]
    assert again == []
    assert [(run.trigger, run.status) for run in later] == [("drift", "failed")]
