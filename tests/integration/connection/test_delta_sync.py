"""Delta sync over real HTTP: the changes after the group's cursor, decided as a full sync."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from kith.app import create_worker
from kith.clock import utcnow
from kith.community.models import CustomUserList, Member
from kith.config import Settings
from kith.connection import sync as sync_module
from kith.connection.client import CommunityClient
from kith.connection.diagnose import diagnose
from kith.connection.live import sync_live_groups
from kith.db import Database
from kith.marketing.groups.kept_list import kept_rows
from kith.marketing.groups.sync_history import last_completed_run, rejected_members
from kith.marketing.groups.target_groups import get_group
from kith.marketing.models import (
    CommunityListMember,
    CommunityListRecent,
    Subscriber,
    SyncRun,
    TargetGroup,
)
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


@pytest.mark.parametrize("page", [None, 2], ids=["one page", "pages of two"])
def test_a_delta_gives_every_member_the_outcome_a_full_sync_gives(
    world: World, edition: str, page: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "CHANGES_PAGE", page)
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


def test_a_member_coming_into_the_running_is_ranked_with_the_kept_member_of_their_email(
    world: World,
) -> None:
    insiders(world)
    # m05, without a legacy key (out of the running), takes the email of m07, who is kept
    # alone with it; then m05 gets a legacy key and ranks with m07 for that email
    for values in ({"email": "g@example.org"}, {"legacy_contact_key": "L05"}):
        with world.community.transaction() as session:
            session.execute(update(Member).where(Member.contact_key == "m05").values(values))
        delta = world.sync("Insiders", delta=True)
        assert delta.mode == "delta", delta.error
    delta_rejections = rejections(world)
    full = world.sync("Insiders")

    assert ("m05", "duplicate_email") in delta_rejections  # m07 matches a subscriber, goes on
    assert outcome(delta) == outcome(full)
    assert delta_rejections == rejections(world)


def test_a_delta_reads_only_the_changes_not_the_members_stream(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    insiders(world)
    churn(world)
    streamed = reading_the_stream(monkeypatch)
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


def test_a_delta_keeps_its_rows_apart_until_a_full_sync_keeps_the_list_anew(world: World) -> None:
    insiders(world)
    group_id = world.group_id("Insiders")
    kept_in_full = kept_list(world, CommunityListMember)
    churn(world)

    delta = world.sync("Insiders", delta=True)

    assert (delta.status, delta.mode) == ("completed", "delta"), delta.error
    assert kept_list(world, CommunityListMember) == kept_in_full  # not rewritten: stood in for
    recent = {row[0]: row for row in kept_list(world, CommunityListRecent)}
    assert {"m01", "m02", "m03", "m04", "m11"} <= set(recent)
    assert recent["m02"][-1] and not recent["m04"][-1]  # m02 left the list, m04 joined it
    with world.marketing.session() as session:
        columns = ["contact_key", "legacy_contact_key", "email_key", "outcome", "subscriber_id"]
        standing = sorted(
            session.execute(kept_rows(group_id, columns)).tuples(), key=lambda row: row[0]
        )

    full = world.sync("Insiders")

    assert (full.status, full.mode, full.added, full.removed) == ("completed", "full", 0, 0)
    assert kept_list(world, CommunityListRecent) == []
    assert [row[:5] for row in kept_list(world, CommunityListMember)] == standing


def kept_list(world: World, table: type[CommunityListMember | CommunityListRecent]) -> list[Any]:
    """A table of the group's kept rows: key, legacy key, email, outcome, subscriber (and, for
    the recent rows, whether the member is gone), by key."""
    columns = (table.contact_key, table.legacy_contact_key, table.email_key, table.outcome)
    gone = (CommunityListRecent.gone,) if table is CommunityListRecent else ()
    with world.marketing.session() as session:
        return list(
            session.execute(
                select(*columns, table.subscriber_id, *gone)
                .where(table.group_id == world.group_id("Insiders"))
                .order_by(table.contact_key)
            ).tuples()
        )


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


class Churn:
    """Random but repeatable churn of a community and its subscribers: members join and leave a
    list, change email (making and breaking duplicates, in any case) or legacy key (to one with
    a subscriber or without, or none); subscribers unsubscribe, bounce, subscribe again, and an
    import gives members' legacy keys as Remote IDs."""

    EMAILS = [f"e{n}@example.org" for n in range(8)] + ["E1@Example.org", "not an email"]

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.random = random.Random(seed)
        self.fresh = 0

    def populate(self) -> None:
        with self.world.community.transaction() as session:
            for n in range(24):
                session.add(
                    Member(
                        contact_key=f"m{n:02}",
                        legacy_contact_key=None if n == 5 else f"L{n:02}",
                        email=self.random.choice(self.EMAILS),
                        company=self.random.choice(["in", "in", "out"]),
                        custom_fields={},
                    )
                )
        self.world.subscribers(
            *((f"s{n}@subscribers.example.org", f"L{n:02}", "subscribed") for n in range(16))
        )

    def round(self, changes: int) -> None:
        for _ in range(changes):
            act = self.random.choice(
                [
                    self.join_or_leave,
                    self.change_email,
                    self.change_legacy_key,
                    self.lapse,
                    self.subscribe_by_import,
                ]
            )
            act()

    def member(self) -> str:
        return f"m{self.random.randrange(24):02}"

    def update_member(self, **values: Any) -> None:
        with self.world.community.transaction() as session:
            session.execute(
                update(Member).where(Member.contact_key == self.member()).values(values)
            )

    def join_or_leave(self) -> None:
        self.update_member(company=self.random.choice(["in", "out"]))

    def change_email(self) -> None:
        self.update_member(email=self.random.choice(self.EMAILS))

    def change_legacy_key(self) -> None:
        self.fresh += 1
        key = self.random.choice([f"N{self.fresh:03}", f"L{self.random.randrange(16, 40)}", None])
        with self.world.community.session() as session:
            taken = session.scalar(select(Member.id).where(Member.legacy_contact_key == key))
        if taken is None:
            self.update_member(legacy_contact_key=key)

    def lapse(self) -> None:
        status = self.random.choice(["unsubscribed", "bounced", "subscribed"])
        with self.world.marketing.transaction() as session:
            set_status(session, f"L{self.random.randrange(16):02}", status, now=self.world.now)

    def subscribe_by_import(self) -> None:
        with self.world.community.session() as session:
            keys = session.scalars(select(Member.legacy_contact_key)).all()
        with self.world.marketing.session() as session:
            held = set(session.scalars(select(Subscriber.remote_id)))
        free = sorted(key for key in keys if key is not None and key not in held)
        if free:
            self.fresh += 1
            key = self.random.choice(free)
            self.world.subscribers((f"import{self.fresh}@example.org", key, "subscribed"))


def counts(run: SyncRun) -> dict[str, Any]:
    return {
        "status": run.status,
        **outcome(run),
        "added": run.added,
        "removed": run.removed,
        "unchanged": run.unchanged,
    }


def rejected(world: World, group: str) -> set[tuple[str | None, str]]:
    with world.marketing.session() as session:
        run = last_completed_run(session, get_group(session, group))
        assert run is not None
        return {(row["contact_key"], row["reason"]) for row in rejected_members(session, run)}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_same_churn_synced_by_deltas_and_in_full_gives_the_same_groups(
    world: World, seed: int
) -> None:
    # the community app's passes (as a full sync reads) run on the real clock: the world's
    # passes before its deltas must too, or each would prune the changes the other logged
    world.now = utcnow()
    churn = Churn(world, seed)
    churn.populate()
    world.list("Informz Delta", INSIDERS)
    world.list("Informz Full", INSIDERS)
    world.refresh()
    assert world.sync("Delta").status == world.sync("Full").status == "completed"

    for _ in range(5):
        churn.round(changes=6)
        delta, full = world.sync("Delta", delta=True), world.sync("Full")

        assert delta.mode == "delta" and full.mode == "full", delta.error
        assert counts(delta) == counts(full)
        assert world.group_remote_ids("Delta") == world.group_remote_ids("Full")
        assert rejected(world, "Delta") == rejected(world, "Full")
    again = world.sync("Delta")  # and in full, the delta's group changes no more
    assert (again.added, again.removed, again.created, again.linked) == (0, 0, 0, 0)
    assert outcome(again) == outcome(delta)


def test_a_live_pass_removes_a_member_who_unsubscribed_without_reading_the_list(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    insiders(world)
    assert sync_live_groups(world.marketing, world.settings, now=world.now) == []  # idle
    with world.marketing.transaction() as session:
        set_status(session, "L01", "unsubscribed", now=world.now)
    streamed = reading_the_stream(monkeypatch)

    runs = sync_live_groups(world.marketing, world.settings, now=world.now)

    assert [(run.mode, run.trigger, run.status) for run in runs] == [("delta", "live", "completed")]
    assert (runs[0].added, runs[0].removed, runs[0].skipped["unsubscribed"]) == (0, 1, 1)
    assert "L01" not in world.group_remote_ids("Insiders")
    assert ("m01", "unsubscribed") in rejections(world)
    assert streamed == []


def test_a_live_pass_adds_a_member_once_an_import_gives_their_legacy_key_as_remote_id(
    world: World, edition: str
) -> None:
    if edition == "platform":
        pytest.skip("the platform edition creates the subscriber itself at the first sync")
    insiders(world)
    world.subscribers(("h@example.org", "L08", "subscribed"))  # m08 had no subscriber

    runs = sync_live_groups(world.marketing, world.settings, now=world.now)

    assert [(run.mode, run.added, run.skipped["no_matching_subscriber"]) for run in runs] == [
        ("delta", 1, 0)
    ]
    assert "L08" in world.group_remote_ids("Insiders")


def test_diagnose_explains_a_delta_as_it_explains_a_full_sync(world: World) -> None:
    insiders(world)
    churn(world)
    world.sync("Insiders", delta=True)
    with world.marketing.session() as session:
        after_delta = diagnose(session, world.box, "Insiders").figures["last_sync"]
    world.sync("Insiders")
    with world.marketing.session() as session:
        after_full = diagnose(session, world.box, "Insiders").figures["last_sync"]

    assert after_delta["skipped"] == after_full["skipped"]
    assert after_delta["examples"]["duplicate_email"] == ["m07 (g@example.org)"]
    assert {reason: set(keys) for reason, keys in after_delta["examples"].items()} == {
        reason: set(keys) for reason, keys in after_full["examples"].items()
    }


def reading_the_stream(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the community's members streams read from now on."""
    streamed: list[str] = []
    stream = CommunityClient.stream_ndjson

    def counted(self: CommunityClient, path: str, *args: Any) -> Iterator[dict[str, Any]]:
        streamed.append(path)
        return stream(self, path, *args)

    monkeypatch.setattr(CommunityClient, "stream_ndjson", counted)
    return streamed


def test_a_delta_failing_as_it_applies_leaves_the_group_at_its_previous_cursor(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    insiders(world)
    churn(world)
    before = kept(world)

    def crash(*args: Any, **kwargs: Any) -> None:  # once the membership is applied
        raise RuntimeError("the process died")

    monkeypatch.setattr(sync_module, "store_mirror", crash)
    failed = world.sync("Insiders", delta=True)
    assert (failed.status, kept(world)) == ("failed", before)
    monkeypatch.undo()

    finished = world.sync("Insiders", delta=True)
    assert (finished.status, finished.mode, finished.removed) == ("completed", "delta", 4)
    assert outcome(finished) == outcome(world.sync("Insiders"))


def kept(world: World) -> tuple[Any, ...]:
    """What a sync leaves for the next: the cursors, the kept list as it stands, the
    membership."""
    with world.marketing.session() as session:
        group = session.get_one(TargetGroup, world.group_id("Insiders"))
        standing = kept_rows(group.id, ["contact_key", "outcome"]).subquery()
        rows = session.execute(select(standing).order_by(standing.c.contact_key)).all()
        cursors = (group.list_cursor, group.subscriber_changes_seen)
    return cursors, rows, world.group_remote_ids("Insiders")
