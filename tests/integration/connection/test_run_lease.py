"""A sync run's lease: a run whose process died is taken over at once, one whose heartbeat
stopped once its lease runs out, and a holder whose run was taken over commits nothing. And
waiting for a run looks at liveness again: a run whose process died is replaced by one carried
out here, and a queued run whose only worker just died is carried out by its waiter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

import kith.connection.run_lease as run_lease
from kith.clock import utcnow
from kith.config import Settings
from kith.connection.list_mirror import Staged
from kith.connection.run_lease import RUN_LEASE, heartbeat
from kith.connection.runs import SyncRuns
from kith.connection.sync import SyncRequested, _Reconciliation, request_sync
from kith.db import Database
from kith.marketing.models import SyncRun, TargetGroup
from kith.marketing.workers import WorkerRegistry, workers_alive
from kith.processes import this_thread
from tests.support.connection_world import World, joined_world
from tests.support.processes import dead_holder
from tests.support.worker_cluster import wait_until

EVERYONE = {"field": "contact_key", "op": "starts_with", "value": "m"}


@pytest.fixture
def world(community_db: Database, marketing_db: Database, settings: Settings) -> Iterator[World]:
    """m1 and m2 in the list, their group synced once; then m3 joins the list."""
    with joined_world(community_db, marketing_db, settings) as joined:
        joined.change_criteria(joined.posters(3), EVERYONE)
        yield joined


def claimed(world: World, holder: str, *, heartbeat_at: datetime) -> int:
    """A run of "Posters" claimed by `holder`, last heard of at `heartbeat_at`; its id."""
    run_id = request(world, now=heartbeat_at).run.id
    with world.marketing.transaction() as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(started_at=heartbeat_at, heartbeat_at=heartbeat_at, holder=holder)
        )
    return run_id


def request(world: World, *, now: datetime) -> SyncRequested:
    return request_sync(world.marketing, world.group_id("Posters"), trigger="manual", now=now)


def run_of(world: World, run_id: int) -> SyncRun:
    with world.marketing.session() as session:
        return session.get_one(SyncRun, run_id)


def test_a_run_whose_process_died_is_taken_over_by_the_next_request_at_once(
    world: World,
) -> None:
    holder = dead_holder()
    stalled = claimed(world, holder, heartbeat_at=world.now)

    requested = request(world, now=world.now)

    assert not requested.existing
    dead = run_of(world, stalled)
    assert (dead.status, dead.error) == (
        "failed",
        f"abandoned: the process carrying it out ({holder}) died",
    )
    assert world.group_remote_ids("Posters") == {"L1"}  # as the last completed run left it


def test_a_run_of_another_host_binds_its_group_until_its_lease_runs_out(world: World) -> None:
    running = claimed(world, "elsewhere:4242:1", heartbeat_at=world.now)

    assert request(world, now=world.now + RUN_LEASE - timedelta(seconds=1)).existing
    assert not request(world, now=world.now + RUN_LEASE + timedelta(seconds=1)).existing
    assert run_of(world, running).error == (
        f"abandoned: no heartbeat from elsewhere:4242:1 since {world.now:%Y-%m-%d %H:%M:%S} UTC"
    )


def test_a_holder_whose_run_was_taken_over_commits_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[int] = []
    stage = _Reconciliation._stage

    def stage_then_lose_the_run(self: _Reconciliation, *args: Any) -> Staged:
        staged = stage(self, *args)  # meanwhile the lease ran out, and another request came
        taken.append(request(world, now=world.now + RUN_LEASE * 2).run.id)
        return staged

    monkeypatch.setattr(_Reconciliation, "_stage", stage_then_lose_the_run)
    slow = world.sync("Posters")

    assert slow.status == "failed" and slow.error is not None
    assert slow.error.startswith(f"abandoned: no heartbeat from {this_thread()}")
    assert world.group_remote_ids("Posters") == {"L1"}  # its work was dropped
    with world.marketing.session() as session:
        assert session.get_one(TargetGroup, slow.group_id).sync_status == "in progress"
    assert run_of(world, taken[0]).status == "in progress"  # the taker's run, for its worker


def test_the_heartbeat_renews_the_lease_of_its_holder_only(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_lease, "HEARTBEAT_EVERY", timedelta(milliseconds=20))
    run_id = claimed(world, this_thread(), heartbeat_at=world.now)
    later = world.now + timedelta(minutes=1)

    with heartbeat(world.marketing, run_id, this_thread(), lambda: later):
        wait_until(lambda: run_of(world, run_id).heartbeat_at == later, "a heartbeat", 10)
    with heartbeat(world.marketing, run_id, "elsewhere:4242:1", lambda: later + timedelta(hours=1)):
        time.sleep(0.2)  # ten beats of a holder that does not have the run

    assert run_of(world, run_id).heartbeat_at == later


def test_whoever_waits_on_a_run_whose_process_died_gets_a_new_run_carried_out_here(
    world: World,
) -> None:
    stalled = claimed(world, dead_holder(), heartbeat_at=utcnow())  # then its worker was killed
    runs = SyncRuns(world.marketing, world.settings)

    with ThreadPoolExecutor(2) as pool:  # a `sync --wait` and a send's sync on send, say
        waited = list(pool.map(runs.wait, [stalled, stalled]))

    assert [(run.status, run.members) for run in waited] == [("completed", 3)] * 2
    assert stalled not in {run.id for run in waited}
    assert run_of(world, stalled).status == "failed"
    assert world.group_remote_ids("Posters") == {"L1", "L2", "L3"}


def test_a_queued_run_whose_only_worker_just_died_is_carried_out_by_its_waiter(
    world: World,
) -> None:
    WorkerRegistry(world.marketing).beat(dead_holder(), started=True)  # seen a moment ago
    assert workers_alive(world.marketing, now=utcnow()) == 0

    requested, run = SyncRuns(world.marketing, world.settings).queue_and_wait(
        world.group_id("Posters"), trigger="manual", now=utcnow()
    )

    assert run.id == requested.run.id and run.status == "completed"
    assert world.group_remote_ids("Posters") == {"L1", "L2", "L3"}
