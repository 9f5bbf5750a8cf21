"""Two `kith worker` processes on one Redis queue and one PostgreSQL database, as on two
machines: however many requests arrive at once, one group is never synced by two at once and
one message is never sent twice, even when a worker is killed in the middle of a send."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from kith.clock import utcnow
from kith.config import Settings
from kith.connection.runs import SyncRuns
from kith.db import Database
from kith.errors import Conflict
from kith.marketing.groups.target_groups import get_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.jobs import start_send
from kith.marketing.mailings.report import mailing_report
from kith.marketing.mailings.sending import SendOptions
from kith.marketing.models import GroupMember, Mailing, Subscriber, SyncRun
from kith.marketing.ports import ports
from kith.migrate import upgrade
from tests.support.connection_world import World, joined_world
from tests.support.smtp_sink import SmtpSink
from tests.support.worker_cluster import redis_queue, running_workers, wait_until

EVERYONE = {"field": "contact_key", "op": "starts_with", "value": "m"}
MEMBERS = 300
NO_KEY = 5  # m000..m004 have no legacy contact key: left out as missing_contact_key
BOUNCED = 5  # the subscribers of m005..m009 bounced: left out as bounced
IN_GROUP = {f"L{n:03}" for n in range(NO_KEY + BOUNCED, MEMBERS)}
ADDRESSES = {f"m{n:03}@example.org" for n in range(NO_KEY + BOUNCED, MEMBERS)}
REQUESTERS = 8  # threads asking at the same moment
T = TypeVar("T")


@pytest.fixture
def world(
    new_postgres_database: Callable[[str], str],
    smtp_sink: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    """Both sides on fresh PostgreSQL databases, the community served on loopback, the group
    "Everyone" refreshed but never synced, and settings that send to the SMTP sink."""
    # the ports are global: give them back as they were once this test's databases are gone
    monkeypatch.setattr(ports, "sync_group", ports.sync_group)
    monkeypatch.setattr(ports, "check_duplicates", ports.check_duplicates)
    with redis_queue() as (queue_url, queue_name):
        community = Database(new_postgres_database("community"))
        marketing = Database(new_postgres_database("marketing"))
        upgrade(community, "community")
        upgrade(marketing, "marketing")
        settings = Settings(
            data_dir=tmp_path / "var",
            community_db_url=community.url,
            marketing_db_url=marketing.url,
            queue_url=queue_url,
            queue_name=queue_name,
            secret_key="two-workers-secret",
            smtp_url=smtp_sink.url() + "&connections=3&backoff=0",
        )
        with joined_world(community, marketing, settings) as joined:
            joined.members(
                *(
                    (f"m{n:03}", f"L{n:03}" if n >= NO_KEY else None, f"m{n:03}@example.org")
                    for n in range(MEMBERS)
                )
            )
            joined.subscribers(
                *(
                    (
                        f"m{n:03}@example.org",
                        f"L{n:03}",
                        "bounced" if n < NO_KEY + BOUNCED else "subscribed",
                    )
                    for n in range(NO_KEY, MEMBERS)
                )
            )
            joined.list("Informz Everyone", EVERYONE)
            joined.refresh()
            yield joined
        community.dispose()
        marketing.dispose()


def new_mailing(world: World) -> int:
    with world.marketing.transaction() as session:
        draft = MailingDraft(
            name="News",
            subject="Hi {{ first_name }}",
            html="<p>{{ email }}</p>",
            include=["Everyone"],
        )
        return create_mailing(session, draft, now=utcnow()).id


def request_send(world: World, mailing_id: int) -> str:
    """One `kith mailings send ID` (without --wait): "queued", or "sent already" when refused."""
    try:
        start_send(world.marketing, world.settings, mailing_id, SendOptions(), wait=False)
    except Conflict:
        return "sent already"
    return "queued"


def at_once(count: int, request: Callable[[], T]) -> list[T]:
    """`count` threads making the same request at the same moment; their answers."""
    barrier = threading.Barrier(count)

    def one(_: int) -> T:
        barrier.wait()
        return request()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def mailing_status(world: World, mailing_id: int) -> str:
    with world.marketing.session() as session:
        return session.get_one(Mailing, mailing_id).status


def assert_sent_once_to_everyone(world: World, mailing_id: int, sink: SmtpSink, logs: str) -> None:
    """The mailing is sent: the sink got one message for each address of the group, no more."""
    assert mailing_status(world, mailing_id) == "sent", logs
    delivered = Counter(recipient for message in sink.messages for recipient in message.recipients)
    assert set(delivered) == ADDRESSES
    assert max(delivered.values()) == 1
    with world.marketing.session() as session:
        assert mailing_report(session, mailing_id)["totals"]["sent"] == len(ADDRESSES)


def test_sync_requests_at_once_never_sync_a_group_twice_at_the_same_time(
    world: World, tmp_path: Path
) -> None:
    rounds = 3

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
    assert {(run.in_list, run.members) for run in runs} == {(MEMBERS, len(IN_GROUP))}
    assert [run.added for run in runs] == [len(IN_GROUP)] + [0] * (len(runs) - 1)
    assert members == IN_GROUP


def test_send_requests_at_once_send_each_address_exactly_once(
    world: World, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    mailing_id = new_mailing(world)

    with running_workers(world.settings, world.marketing, tmp_path / "logs") as workers:
        first = at_once(REQUESTERS, lambda: request_send(world, mailing_id))
        smtp_sink.wait_for(1, timeout=60)  # the send has begun: ask again while it runs
        during = at_once(REQUESTERS, lambda: request_send(world, mailing_id))
        wait_until(lambda: mailing_status(world, mailing_id) != "sending", "the send to end")
        after = at_once(REQUESTERS, lambda: request_send(world, mailing_id))
        logs = workers.output()

    assert first == ["queued"] * REQUESTERS
    assert set(during) <= {"queued", "sent already"}
    assert after == ["sent already"] * REQUESTERS
    assert_sent_once_to_everyone(world, mailing_id, smtp_sink, logs)


def test_a_worker_killed_mid_send_leaves_no_address_sent_twice_and_none_lost(
    world: World, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
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
        wait_until(lambda: mailing_status(world, mailing_id) != "sending", "the resumed send")
        logs = workers.output()

    assert killed[0] in workers.processes and workers.processes[killed[0]].returncode == -9
    assert_sent_once_to_everyone(world, mailing_id, smtp_sink, logs)
