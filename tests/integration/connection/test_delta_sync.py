"""Delta sync over real HTTP: the changes after the group's cursor, decided as a full sync."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from kith.app import create_worker
from kith.community.models import CustomUserList, Member
from kith.config import Settings
from kith.connection.client import CommunityClient
from kith.db import Database
from kith.marketing.groups.sync_history import last_completed_run, rejected_members
from kith.marketing.models import CommunityListMember, SyncRun, TargetGroup
from kith.marketing.subscribers import set_status
from tests.support.connection_world import World, joined_world

INSIDERS = {"field": "company", "op": "in", "value": ["in"]}


@pytest.fixture(params=["online-community", "platform"])
def edition(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(
    edition: str, community_db: Database, marketing_db: Database, settings: Settings
) -> Iterator[World]:
    with joined_world(community_db, marketing_db, settings, edition=edition) as joined:
        yield joined


def insiders(world: World) -> str:
    """The list "Informz Insiders" (company "in"), its group synced in full once."""
    with world.community.transaction() as session:
        for contact_key, legacy_key, email, company in (
            ("m01", "L01", "a@example.org", "in"),
            ("m02", "L02", "b@example.org", "in"),  # leaves the list
            ("m03", "L03", "c@example.org", "in"),  # gets the legacy key L09
            ("m04", "L04", "d@example.org", "out"),  # joins the list
            ("m05", None, "e@example.org", "in"),  # missing_contact_key
            ("m06", "L06", "not an email", "in"),  # malformed_email
            ("m07", "L07", "g@example.org", "in"),  # unchanged, m01 takes its email
            ("m08", "L08", "h@example.org", "in"),  # no subscriber
            ("m10", "L10", "j@example.org", "in"),  # unsubscribes on the marketing side
        ):
            session.add(
                Member(
                    contact_key=contact_key,
                    legacy_contact_key=legacy_key,
                    email=email,
                    company=company,
                    custom_fields={},
                )
            )
    world.subscribers(
        *(
            (f"{key.lower()}@subscribers.example.org", key, "subscribed")
            for key in ("L01", "L02", "L03", "L04", "L07", "L09", "L10")
        )
    )
    key = world.list("Informz Insiders", INSIDERS)
    world.refresh()
    first = world.sync("Insiders")
    assert first.status == "completed", first.error
    return key


def churn(world: World) -> None:
    """Members join and leave, a legacy key changes, an email becomes another member's, and a
    subscriber unsubscribes."""
    with world.community.transaction() as session:
        for contact_key, values in (
            ("m02", {"company": "out"}),
            ("m04", {"company": "in"}),
            ("m03", {"legacy_contact_key": "L09"}),
            ("m01", {"email": "G@example.org"}),
        ):
            session.execute(update(Member).where(Member.contact_key == contact_key).values(values))
        session.add(
            Member(
                contact_key="m11",
                legacy_contact_key="L11",
                email="k@example.org",
                company="in",
                custom_fields={},
            )
        )
    with world.marketing.transaction() as session:
        set_status(session, "L10", "unsubscribed", now=world.now)


def rejections(world: World) -> list[tuple[str | None, str]]:
    """Who the group's last completed sync left out and why, as `groups rejections` says."""
    with world.marketing.session() as session:
        group = session.get_one(TargetGroup, world.group_id("Insiders"))
        run = last_completed_run(session, group)
        assert run is not None
        return [(row["contact_key"], row["reason"]) for row in rejected_members(session, run)]


def outcome(run: SyncRun) -> dict[str, Any]:
    return {"in_list": run.in_list, "members": run.members, "skipped": run.skipped}


def test_a_delta_gives_every_member_the_outcome_a_full_sync_gives(
    world: World, edition: str
) -> None:
    insiders(world)
    churn(world)

    delta = world.sync("Insiders", delta=True)
    delta_members, delta_rejections = world.group_remote_ids("Insiders"), rejections(world)
    full = world.sync("Insiders")

    assert delta.status == "completed", delta.error
    assert (delta.mode, delta.trigger) == ("delta", "live")
    platform = edition == "platform"  # which creates L08 at the first sync, L11 now
    assert delta_members == {"L01", "L04", "L09"} | ({"L08", "L11"} if platform else set())
    # L04, L09 (and L11) in; L02, L03, L07 (m01 took its email) and L10 out
    assert (delta.added, delta.removed) == (3 if platform else 2, 4)
    assert outcome(delta) == outcome(full)
    assert delta_rejections == rejections(world)
    assert ("m07", "duplicate_email") in delta_rejections
    assert (full.mode, full.added, full.removed) == ("full", 0, 0)
    assert world.group_remote_ids("Insiders") == delta_members


def test_a_delta_reads_only_the_changes_not_the_members_stream(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    insiders(world)
    churn(world)
    streamed: list[str] = []
    stream = CommunityClient.stream_ndjson

    def counted(self: CommunityClient, path: str, *args: Any) -> Iterator[dict[str, Any]]:
        streamed.append(path)
        return stream(self, path, *args)

    monkeypatch.setattr(CommunityClient, "stream_ndjson", counted)
    delta = world.sync("Insiders", delta=True)

    assert delta.status == "completed", delta.error
    assert delta.mode == "delta"
    assert streamed == []


def test_a_full_sync_keeps_the_list_and_its_cursor_for_the_next_delta(world: World) -> None:
    key = insiders(world)

    with world.community.session() as session:
        logged = session.scalar(select(CustomUserList).where(CustomUserList.list_key == key))
    with world.marketing.session() as session:
        group = session.get_one(TargetGroup, world.group_id("Insiders"))
        kept = set(
            session.scalars(
                select(CommunityListMember.contact_key).where(
                    CommunityListMember.group_id == group.id
                )
            )
        )
    assert logged is not None and group.list_cursor is not None
    assert kept == {"m01", "m02", "m03", "m05", "m06", "m07", "m08", "m10"}


def test_a_cursor_no_longer_kept_falls_back_to_a_full_read_in_the_same_run(world: World) -> None:
    key = insiders(world)
    churn(world)
    with world.marketing.session() as session:
        cursor = session.get_one(TargetGroup, world.group_id("Insiders")).list_cursor
    assert cursor is not None
    with world.community.transaction() as session:  # the changes after the cursor were pruned
        session.execute(
            update(CustomUserList)
            .where(CustomUserList.list_key == key)
            .values(changes_pruned_through=cursor + 1)
        )

    fallback = world.sync("Insiders", delta=True)
    full = world.sync("Insiders")

    assert fallback.status == "completed", fallback.error
    assert (fallback.trigger, fallback.mode) == ("live", "full")
    assert outcome(fallback) == outcome(full)
    assert (full.added, full.removed) == (0, 0)
    assert world.sync("Insiders", delta=True).mode == "delta"  # and it has a cursor again


def test_a_running_worker_brings_a_lists_changes_to_its_group_on_its_own(
    world: World, edition: str
) -> None:
    after_churn = {"L01", "L04", "L09"} | ({"L08", "L11"} if edition == "platform" else set())
    insiders(world)
    live = world.settings.model_copy(
        update={
            "marketing_db_url": world.marketing.url,
            "list_pass_seconds": 0.2,
            "live_sync_seconds": 0.2,
        }
    )
    worker = create_worker(live, workers=1)
    worker.start()
    try:
        churn(world)
        deadline = time.monotonic() + 30
        while world.group_remote_ids("Insiders") != after_churn:
            assert time.monotonic() < deadline, world.group_remote_ids("Insiders")
            time.sleep(0.2)
    finally:
        worker.stop()
    with world.marketing.session() as session:
        triggers = session.scalars(select(SyncRun.trigger).order_by(SyncRun.id)).all()
    assert triggers[0] == "manual" and set(triggers[1:]) == {"live"}
