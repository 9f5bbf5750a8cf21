"""Sync Target Group over real HTTP: each member's one outcome, both editions, the guard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kith.config import Settings
from kith.connection.client import ConnectionFailed
from kith.connection.sync import request_sync
from kith.db import Database
from kith.errors import InvalidInput
from kith.marketing.groups.target_groups import get_group
from kith.marketing.models import GroupMember, Subscriber, SyncSkip
from tests.support.connection_world import World, joined_world

EVERYONE = {"field": "contact_key", "op": "starts_with", "value": "m"}


@pytest.fixture
def world(community_db: Database, marketing_db: Database, settings: Settings) -> Iterator[World]:
    with joined_world(community_db, marketing_db, settings) as joined:
        yield joined


def legacy_keys_in(*keys: str) -> dict[str, Any]:
    return {"field": "legacy_contact_key", "op": "in", "value": list(keys)}


def membership_times(world: World) -> dict[int, datetime]:
    with world.marketing.session() as session:
        rows = session.execute(select(GroupMember.subscriber_id, GroupMember.added_at))
        return dict(rows.tuples().all())


def outcome_world(world: World) -> None:
    """One member for each outcome, and the tie-breaks of duplicate emails."""
    world.members(
        ("m01", None, "nokey@example.org"),  # missing_contact_key
        ("m02", None, "not an email"),  # missing_contact_key wins over malformed_email
        ("m03", "L03", "not an email"),  # malformed_email
        ("m04", "L04", "Twin@Example.org "),  # duplicate: L05 matches a subscriber, L04 not
        ("m05", "L05", "twin@example.org"),
        ("m06", "L07", "pair@example.org"),  # both match: the smaller legacy key, L06, goes on
        ("m07", "L06", "pair@example.org"),
        ("m08", "L08", "nomatch@example.org"),  # no_matching_subscriber
        ("m09", "L09", "gone@example.org"),  # unsubscribed
        ("m10", "L10", "bounce@example.org"),  # bounced
        ("m11", " L11 ", "member@example.org"),  # member: the key is trimmed before matching
        ("m12", "L12", "lapsed-dupe@example.org"),  # duplicate_email comes before unsubscribed
        ("m13", "L13", "lapsed-dupe@example.org"),
    )
    world.subscribers(
        ("twin@example.org", "L05", "subscribed"),
        ("pair6@example.org", "L06", "subscribed"),
        ("pair7@example.org", "L07", "subscribed"),
        ("gone@example.org", "L09", "unsubscribed"),
        ("bounce@example.org", "L10", "bounced"),
        ("member@example.org", "L11", "subscribed"),
        ("lapsed12@example.org", "L12", "subscribed"),
        ("lapsed13@example.org", "L13", "unsubscribed"),
        ("nomatch@example.org", None, "subscribed"),  # no Remote ID: only the platform links it
    )


def test_every_member_gets_one_outcome_in_the_documented_order(world: World) -> None:
    outcome_world(world)
    world.list("Informz Everyone", EVERYONE)
    world.refresh()

    run = world.sync("Everyone")

    assert run.status == "completed", run.error
    assert run.skipped == {
        "missing_contact_key": 2,
        "malformed_email": 1,
        "duplicate_email": 3,
        "no_matching_subscriber": 1,
        "unsubscribed": 1,
        "bounced": 1,
        "erased": 0,
    }
    assert (run.in_list, run.members, run.added, run.removed, run.unchanged) == (13, 4, 4, 0, 0)
    assert run.in_list == run.members + sum(run.skipped.values())
    assert (run.created, run.linked) == (0, 0)
    assert world.group_remote_ids("Everyone") == {"L05", "L06", "L11", "L12"}
    with world.marketing.session() as session:
        skips = {
            skip.contact_key: skip.reason
            for skip in session.scalars(select(SyncSkip).where(SyncSkip.run_id == run.id))
        }
    assert skips == {
        "m01": "missing_contact_key",
        "m02": "missing_contact_key",
        "m03": "malformed_email",
        "m04": "duplicate_email",
        "m06": "duplicate_email",
        "m13": "duplicate_email",
        "m08": "no_matching_subscriber",
        "m09": "unsubscribed",
        "m10": "bounced",
    }


def test_the_platform_edition_links_creates_and_stores_personalizations(world: World) -> None:
    world.configure(edition="platform")
    outcome_world(world)
    world.members(("m20", "L20", "Brand.New@Example.org"))
    world.list("Informz Everyone", EVERYONE)
    world.refresh()

    run = world.sync("Everyone")

    assert run.status == "completed", run.error
    assert (run.linked, run.created) == (1, 1)  # nomatch@ gets L08; L20 is created
    assert run.skipped is not None and run.skipped["no_matching_subscriber"] == 0
    assert world.group_remote_ids("Everyone") == {"L05", "L06", "L08", "L11", "L12", "L20"}
    with world.marketing.session() as session:
        linked = session.scalar(select(Subscriber).where(Subscriber.remote_id == "L08"))
        created = session.scalar(select(Subscriber).where(Subscriber.remote_id == "L20"))
    assert linked is not None and linked.email == "nomatch@example.org"
    assert created is not None
    assert (created.email, created.status, created.source) == (
        "Brand.New@example.org",
        "subscribed",
        "connection",
    )
    assert created.community is not None and created.community["communities"] == []


def test_a_resync_writes_only_the_difference(world: World) -> None:
    world.members(*((f"m{n}", f"L{n}", f"p{n}@example.org") for n in range(6)))
    world.subscribers(*((f"p{n}@example.org", f"L{n}", "subscribed") for n in range(8)))
    key = world.list("Informz Some", legacy_keys_in("L0", "L1", "L2", "L3"))
    world.refresh()
    first = world.sync("Some")
    added_at = membership_times(world)

    world.change_criteria(key, legacy_keys_in("L2", "L3", "L4", "L5"))
    world.now += timedelta(hours=1)
    second = world.sync("Some")

    assert (first.added, first.removed, first.unchanged) == (4, 0, 0)
    assert (second.added, second.removed, second.unchanged, second.members) == (2, 2, 2, 4)
    assert world.group_remote_ids("Some") == {"L2", "L3", "L4", "L5"}
    now_added = membership_times(world)
    kept = set(added_at) & set(now_added)
    assert len(kept) == 2 and all(now_added[s] == added_at[s] for s in kept)  # untouched rows


def test_an_empty_list_is_held_instead_of_emptying_a_large_group(world: World) -> None:
    world.settings = world.settings.model_copy(update={"empty_guard": 2})
    world.members(*((f"m{n}", f"L{n}", f"p{n}@example.org") for n in range(4)))
    world.subscribers(*((f"p{n}@example.org", f"L{n}", "subscribed") for n in range(4)))
    key = world.list("Informz Four", legacy_keys_in("L0", "L1", "L2", "L3"))
    world.refresh()
    assert world.sync("Four").members == 4
    world.change_criteria(key, legacy_keys_in("nobody"))

    held = world.sync("Four")
    assert (held.status, held.error, held.in_list) == ("held", "source returned no members", 0)
    assert world.group_remote_ids("Four") == {"L0", "L1", "L2", "L3"}
    with world.marketing.session() as session:
        group = get_group(session, "Four")
        assert (group.sync_status, group.sync_error) == ("held", "source returned no members")

    emptied = world.sync("Four", allow_empty=True)
    assert (emptied.status, emptied.removed, emptied.members) == ("completed", 4, 0)
    assert world.group_remote_ids("Four") == set()


def test_a_second_request_while_one_runs_returns_the_running_one(world: World) -> None:
    world.list("Informz Everyone", EVERYONE)
    world.refresh()
    everyone = world.group_id("Everyone")
    first = request_sync(world.marketing, everyone, trigger="manual", now=world.now)
    second = request_sync(world.marketing, everyone, trigger="on_send", now=world.now)

    assert not first.existing and second.existing
    assert second.run.id == first.run.id and second.run.trigger == "manual"


def test_only_community_groups_that_still_have_a_list_are_synced(world: World) -> None:
    key = world.list("Informz Gone Soon", EVERYONE)
    world.refresh()
    world.delete_list(key)
    world.refresh()
    with pytest.raises(InvalidInput, match="removed from the community"):
        world.sync("Gone Soon")
    world.configure(active=False)
    with pytest.raises(ConnectionFailed, match="not Active"):
        world.sync("Gone Soon")
