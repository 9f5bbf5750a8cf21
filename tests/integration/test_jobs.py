"""`kith worker` processes on one Redis queue and one PostgreSQL database, as on several
machines: however many requests arrive at once, one group is never synced by two at once and
one message is never sent twice, even when a worker is killed in the middle of a send; their
live passes apply each change of a list once, even when one is killed in the middle of a delta.
And a worker killed (SIGKILL) at a random moment of a sync or a send holds nothing up: the rerun
starts within seconds and ends exact (tests/support/kill_trials.py; bench/kill_trials.py runs
dozens of kills)."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from kith.clock import utcnow
from kith.connection.runs import SyncRuns
from kith.marketing.groups.target_groups import get_group
from kith.marketing.mailings.report import mailing_report
from kith.marketing.models import GroupMember, Mailing, Subscriber, SyncRun
from kith.marketing.ports import ports
from tests.support.kill_trials import (
    CONNECTIONS,
    MEMBERS,
    RECOVERY_SECONDS,
    Cluster,
    KillTrials,
    Trial,
    cluster_world,
    mailing_of,
    new_mailing,
    request_send,
)
from tests.support.smtp_sink import SmtpSink
from tests.support.worker_cluster import running_workers, wait_until

REQUESTERS = 8  # threads asking at the same moment
TRIALS = 3  # kills of each kind per test (bench/kill_trials.py runs dozens)
T = TypeVar("T")


@pytest.fixture
def cluster(
    new_postgres_database: Callable[[str], str],
    smtp_sink: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Cluster]:
    """Both sides on fresh PostgreSQL databases with a Redis queue, the community served on
    loopback, the group "Everyone" refreshed but never synced, and settings that send to the
    SMTP sink."""
    yield from made_cluster("postgresql", new_postgres_database, smtp_sink, tmp_path, monkeypatch)


@pytest.fixture
def any_cluster(
    backend: str,
    request: pytest.FixtureRequest,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Cluster]:
    """The cluster on either backend: PostgreSQL and Redis, or SQLite files and queue."""
    postgres = request.getfixturevalue("new_postgres_database") if backend == "postgresql" else None
    yield from made_cluster(backend, postgres, smtp_sink, tmp_path, monkeypatch)


def made_cluster(
    backend: str,
    postgres: Callable[[str], str] | None,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Cluster]:
    # the ports are global: give them back as they were once this test's databases are gone
    monkeypatch.setattr(ports, "sync_group", ports.sync_group)
    monkeypatch.setattr(ports, "check_duplicates", ports.check_duplicates)
    smtp_url = smtp_sink.url() + f"&connections={CONNECTIONS}&backoff=0"
    with cluster_world(backend, tmp_path, smtp_url, postgres=postgres) as made:
        yield made


def at_once(count: int, request: Callable[[], T]) -> list[T]:
    """`count` threads making the same request at the same moment; their answers."""
    barrier = threading.Barrier(count)

    def one(_: int) -> T:
        barrier.wait()
        return request()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def assert_sent_once_to_everyone(
    cluster: Cluster, mailing_id: int, sink: SmtpSink, logs: str
) -> None:
    """The mailing is sent: the sink got one message for each address of the group, no more."""
    assert mailing_of(cluster.world, mailing_id).status == "sent", logs
    delivered = Counter(recipient for message in sink.messages for recipient in message.recipients)
    assert set(delivered) == cluster.addresses()
    assert max(delivered.values()) == 1
    with cluster.world.marketing.session() as session:
        assert mailing_report(session, mailing_id, now=utcnow())["totals"]["sent"] == len(delivered)


def test_sync_requests_at_once_never_sync_a_group_twice_at_the_same_time(
    cluster: Cluster, tmp_path: Path
) -> None:
    rounds = 3
    world, in_group = cluster.world, cluster.should_hold()

    syncs = SyncRuns(world.marketing, world.settings)
    with world.marketing.session() as session:
        everyone = get_group(session, "Everyone").id

    def ask_and_wait() -> list[int]:
        runs = []
        for _ in range(rounds):  # each round starts as soon as this thread saw its run end
            requested = syncs.queue(everyone, trigger="manual", now=utcnow())
            runs.append(syncs.wait(requested.run.id).id)
        return runs

    with running_workers(world.settings, world.marketing, tmp_path / "logs"):
        answered = set(itertools.chain.from_iterable(at_once(REQUESTERS, ask_and_wait)))

    with world.marketing.session() as session:
        group = get_group(session, "Everyone")
        runs = session.scalars(
            select(SyncRun).where(SyncRun.group_id == group.id).order_by(SyncRun.started_at)
        ).all()
        members = set(
            session.scalars(
                select(Subscriber.remote_id)
                .join(GroupMember, GroupMember.subscriber_id == Subscriber.id)
                .where(GroupMember.group_id == group.id)
            )
        )
    assert {run.id for run in runs} == answered  # every run was one some request got back
    assert rounds <= len(runs) < rounds * REQUESTERS  # requests during a run shared it
    for earlier, later in itertools.pairwise(runs):  # one at a time: none started before ...
        assert earlier.finished_at is not None and later.started_at is not None
        assert earlier.finished_at <= later.started_at  # ... the one before it had finished
    assert [run.status for run in runs] == ["completed"] * len(runs)
    assert {(run.in_list, run.members) for run in runs} == {(MEMBERS, len(in_group))}
    assert [run.added for run in runs] == [len(in_group)] + [0] * (len(runs) - 1)
    assert members == in_group


def test_send_requests_at_once_send_each_address_exactly_once(
    cluster: Cluster, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    world = cluster.world
    mailing_id = new_mailing(world)

    with running_workers(world.settings, world.marketing, tmp_path / "logs") as workers:
        first = at_once(REQUESTERS, lambda: request_send(world, mailing_id))
        smtp_sink.wait_for(1, timeout=60)  # the send has begun: ask again while it runs
        during = at_once(REQUESTERS, lambda: request_send(world, mailing_id))
        wait_until(lambda: mailing_of(world, mailing_id).status != "sending", "the send to end")
        after = at_once(REQUESTERS, lambda: request_send(world, mailing_id))
        logs = workers.output()

    assert first == ["queued"] * REQUESTERS
    assert set(during) <= {"queued", "sent already"}
    assert after == ["sent already"] * REQUESTERS
    assert_sent_once_to_everyone(cluster, mailing_id, smtp_sink, logs)


def test_a_worker_killed_mid_send_leaves_no_address_sent_twice_and_none_lost(
    cluster: Cluster, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    world = cluster.world
    mailing_id = new_mailing(world)
    # one connection: the message the sink holds when the sender dies is its only one in flight
    settings = world.settings.model_copy(
        update={"smtp_url": smtp_sink.url() + "&connections=1&backoff=0"}
    )
    kill_at = 120
    killed: list[int] = []
    kill_done = threading.Event()

    with running_workers(settings, world.marketing, tmp_path / "logs") as workers:

        def kill_the_sender(_message: object) -> str:
            with world.marketing.session() as session:
                owner = session.get_one(Mailing, mailing_id).lease_owner or ""
            pid = int(owner.split(":")[1])  # host:pid:thread
            workers.kill(pid)  # dies before hearing that this message was accepted
            killed.append(pid)
            kill_done.set()
            return "421 4.3.0 shutting down"

        smtp_sink.on_message(kill_at, kill_the_sender)
        assert request_send(world, mailing_id) == "queued"
        assert kill_done.wait(timeout=60), workers.output()
        assert len(smtp_sink.messages) == kill_at - 1
        workers.start(1)  # a replacement; it and the survivor both take jobs from now on

        assert request_send(world, mailing_id) == "queued"  # resume, as the operator would
        wait_until(lambda: mailing_of(world, mailing_id).status != "sending", "the resumed send")
        logs = workers.output()

    assert killed[0] in workers.processes and workers.processes[killed[0]].returncode == -9
    assert_sent_once_to_everyone(cluster, mailing_id, smtp_sink, logs)


def test_a_worker_killed_at_a_random_moment_of_a_sync_holds_the_group_up_for_seconds(
    any_cluster: Cluster, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    done = kill_trials(any_cluster, smtp_sink, tmp_path, "sync")  # each rerun checked exact

    assert [trial.recovery <= RECOVERY_SECONDS for trial in done] == [True] * TRIALS


def test_a_worker_killed_at_a_random_moment_of_a_send_holds_it_up_for_seconds(
    cluster: Cluster, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    done = kill_trials(cluster, smtp_sink, tmp_path, "send")  # no message lost

    assert [trial.recovery <= RECOVERY_SECONDS for trial in done] == [True] * TRIALS
    assert all(trial.duplicates <= CONNECTIONS for trial in done)


def test_live_passes_of_two_workers_apply_each_change_once_and_a_kill_mid_delta_loses_none(
    any_cluster: Cluster, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    cluster, world = any_cluster, any_cluster.world
    _, full = SyncRuns(world.marketing, world.settings).queue_and_wait(
        cluster.group_id(), trigger="manual", now=utcnow()
    )
    assert full.status == "completed", full.error
    live = world.settings.model_copy(update={"list_pass_seconds": 0.2, "live_sync_seconds": 0.3})
    states = [world.group_remote_ids("Everyone")]
    with running_workers(live, world.marketing, tmp_path / "logs", 2) as workers:
        trials = KillTrials(cluster, workers, smtp_sink, random.Random(16), keep_alive=2)
        for prefix in ("m0", "m1"):  # two workers' passes race for each change
            cluster.leave_out(prefix)
            states.append(cluster.should_hold())
            wait_until(lambda: world.group_remote_ids("Everyone") == states[-1], "a pass")
        trials.calibrate_delta()
        for _ in range(TRIALS):
            trials.trial("delta")  # checked exact
            states.append(cluster.should_hold())

    with world.marketing.session() as session:
        runs = session.scalars(
            select(SyncRun)
            .where(SyncRun.id > full.id, SyncRun.started_at.is_not(None))
            .order_by(SyncRun.started_at)
        ).all()
    completed = [run for run in runs if run.status == "completed"]
    assert {run.trigger for run in runs} == {"live"}
    assert [run.mode for run in completed] == ["delta"] * len(completed)
    assert all(  # one run of the group at a time, whichever worker
        later.started_at >= earlier.finished_at for earlier, later in itertools.pairwise(runs)
    )
    steps = list(itertools.pairwise(states))  # each change applied once: the runs add up to it
    assert sum(run.added for run in completed) == sum(len(new - old) for old, new in steps)
    assert sum(run.removed for run in completed) == sum(len(old - new) for old, new in steps)
    assert {run.members for run in completed} <= {len(state) for state in states}


def kill_trials(cluster: Cluster, sink: SmtpSink, folder: Path, kind: str) -> list[Trial]:
    """TRIALS kills of the worker doing the work, each followed by its rerun, checked exact;
    a worker for each kill and one to spare, so that none has to be started between them."""
    world = cluster.world
    with running_workers(world.settings, world.marketing, folder / "logs", TRIALS + 1) as workers:
        trials = KillTrials(cluster, workers, sink, random.Random(21))
        trials.calibrate(kind)
        return [trials.trial(kind) for _ in range(TRIALS)]
