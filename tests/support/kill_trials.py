"""Kill trials: a `kith worker` killed (SIGKILL) at a random moment of a sync or of a send, then
the rerun an operator would start; how soon the rerun started, and whether it ended exact.

The cluster is both sides on one backend (PostgreSQL with a Redis queue, or SQLite files with
the SQLite queue), the community served on loopback, and `kith worker` processes. Its list
"Everyone" leaves out a rotating third of its members, so that every sync adds and removes
some. tests/integration/test_jobs.py runs a few trials; bench/kill_trials.py runs dozens.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from kith.clock import utcnow
from kith.community.ingest import import_members
from kith.config import Settings
from kith.connection.runs import SyncRuns
from kith.db import Database
from kith.errors import Conflict
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.jobs import start_send
from kith.marketing.mailings.report import mailing_report
from kith.marketing.mailings.sending import SendOptions
from kith.marketing.models import Mailing, SyncRun, TargetGroup
from kith.migrate import SIDES, upgrade
from tests.support.community_world import NOW
from tests.support.connection_world import World, joined_world
from tests.support.import_files import MEMBERS_HEADER, csv_rows, member_line
from tests.support.smtp_sink import SmtpSink
from tests.support.worker_cluster import Workers, redis_queue, wait_until

MEMBERS = 300
NO_KEY = 5  # the first members have no legacy contact key: left out as missing_contact_key
BOUNCED = 5  # the subscribers of the next ones bounced: left out as bounced
EVERYONE = {"field": "contact_key", "op": "starts_with", "value": "m"}
GROUP = "Everyone"
# The rerun must start this soon after the kill (issue 21)
RECOVERY_SECONDS = 30.0
CONNECTIONS = 3  # SMTP connections per send: at most one message each is in doubt at a kill


@dataclass
class Cluster:
    """The joined world and what its group should hold: every member with a legacy key and a
    subscriber in good standing, less those whose contact key starts with `left_out`."""

    world: World
    members: int
    list_key: str
    left_out: str | None = None

    def key(self, n: int) -> str:
        return f"{n:0{len(str(self.members - 1))}}"

    def should_hold(self) -> set[str]:
        """The legacy keys (Remote IDs) the group holds once synced."""
        return {f"L{self.key(n)}" for n in self._in_group()}

    def addresses(self) -> set[str]:
        """The addresses a mailing to the group goes to."""
        return {f"m{self.key(n)}@example.org" for n in self._in_group()}

    def _in_group(self) -> Iterator[int]:
        for n in range(NO_KEY + BOUNCED, self.members):
            if self.left_out is None or not f"m{self.key(n)}".startswith(self.left_out):
                yield n

    def leave_out(self, prefix: str) -> None:
        """Change the list to leave out the members whose contact key starts with `prefix`."""
        leaving = {"not": {"field": "contact_key", "op": "starts_with", "value": prefix}}
        self.world.change_criteria(self.list_key, {"all": [EVERYONE, leaving]})
        self.left_out = prefix

    def group_id(self) -> int:
        return self.world.group_id(GROUP)


@contextmanager
def cluster_world(
    backend: str,
    folder: Path,
    smtp_url: str,
    *,
    members: int = MEMBERS,
    postgres: Callable[[str], str] | None = None,
) -> Iterator[Cluster]:
    """Both sides on fresh databases (`postgres` makes a PostgreSQL one for a label; SQLite
    files go in `folder`), the community served on loopback, `members` members and their
    subscribers, the group "Everyone" refreshed but never synced, and settings for workers
    that send to `smtp_url`."""
    queue = redis_queue() if backend == "postgresql" else nullcontext((None, "kith"))
    with queue as (queue_url, queue_name):
        if backend == "postgresql":
            assert postgres is not None
            urls = {side: postgres(side) for side in SIDES}
        else:
            urls = {side: f"sqlite:///{folder / f'{side}.db'}" for side in SIDES}
        community, marketing = Database(urls["community"]), Database(urls["marketing"])
        upgrade(community, "community")
        upgrade(marketing, "marketing")
        settings = Settings(
            data_dir=folder / "var",
            community_db_url=community.url,
            marketing_db_url=marketing.url,
            queue_url=queue_url,
            queue_name=queue_name,
            secret_key="two-workers-secret",
            smtp_url=smtp_url,
        )
        try:
            with joined_world(community, marketing, settings) as world:
                cluster = Cluster(world, members, "")
                _populate(cluster)
                cluster.list_key = world.list(f"Informz {GROUP}", EVERYONE)
                world.refresh()
                yield cluster
        finally:
            community.dispose()
            marketing.dispose()


def _populate(cluster: Cluster) -> None:
    """m0..mN: the first NO_KEY without a legacy key, the next BOUNCED with bounced subscribers."""
    key = cluster.key
    lines = (
        member_line(f"m{key(n)}", f"L{key(n)}" if n >= NO_KEY else "", f"m{key(n)}@example.org")
        for n in range(cluster.members)
    )
    with cluster.world.community.bulk_transaction() as session:
        import_members(session, csv_rows(MEMBERS_HEADER, *lines), now=NOW)
    cluster.world.subscribers(
        *(
            (
                f"m{key(n)}@example.org",
                f"L{key(n)}",
                "bounced" if n < NO_KEY + BOUNCED else "subscribed",
            )
            for n in range(NO_KEY, cluster.members)
        )
    )


def new_mailing(world: World, subject: str = "Hi {{ first_name }}") -> int:
    with world.marketing.transaction() as session:
        draft = MailingDraft(
            name="News", subject=subject, html="<p>{{ email }}</p>", include=[GROUP]
        )
        return create_mailing(session, draft, now=utcnow()).id


def request_send(world: World, mailing_id: int) -> str:
    """One `kith mailings send ID` (without --wait): "queued", or "sent already" when refused."""
    try:
        start_send(world.marketing, world.settings, mailing_id, SendOptions(), wait=False)
    except Conflict:
        return "sent already"
    return "queued"


def mailing_of(world: World, mailing_id: int) -> Mailing:
    with world.marketing.session() as session:
        return session.get_one(Mailing, mailing_id)


def run_of(world: World, run_id: int) -> SyncRun:
    with world.marketing.session() as session:
        return session.get_one(SyncRun, run_id)


@dataclass(frozen=True)
class Trial:
    """One kill and its rerun: when the kill came (seconds into the work), whether the work was
    still going, and how many seconds after the kill the rerun started."""

    kind: str
    delay: float
    mid_work: bool
    recovery: float
    duplicates: int = 0


@dataclass
class KillTrials:
    """Trials on one cluster: each kills the worker doing the work, checks what the kill left,
    reruns the work as an operator would and checks that it ends exact. Keeps `keep_alive`
    workers running, starting one when a kill leaves fewer."""

    cluster: Cluster
    workers: Workers
    sink: SmtpSink
    rng: random.Random
    keep_alive: int = 1
    durations: dict[str, float] = field(default_factory=dict)
    _prefixes: Iterator[str] = field(default_factory=lambda: itertools.cycle(("m0", "m1", "m2")))

    @property
    def world(self) -> World:
        return self.cluster.world

    def calibrate(self, *kinds: str) -> None:
        """The work of each kind ("sync", "send") done twice without a kill (the first time is
        cold): how long it takes at best bounds the moment of a trial's kill."""
        for kind in kinds:
            for _ in range(2):
                if kind == "sync":
                    self._calibrate_sync()
                else:
                    self._calibrate_send()

    def _calibrate_sync(self) -> None:
        self.cluster.leave_out(next(self._prefixes))
        group_id = self.cluster.group_id()
        _, run = self._syncs().queue_and_wait(group_id, trigger="manual", now=utcnow())
        assert run.status == "completed" and run.started_at and run.finished_at, run.error
        self._took("sync", (run.finished_at - run.started_at).total_seconds())

    def _calibrate_send(self) -> None:
        mailing_id = new_mailing(self.world, f"Calibration {uuid.uuid4().hex[:8]}")
        request_send(self.world, mailing_id)
        self._holder(lambda: mailing_of(self.world, mailing_id).lease_owner)
        began = time.monotonic()
        wait_until(lambda: mailing_of(self.world, mailing_id).status != "sending", "a send")
        self._took("send", time.monotonic() - began)

    def _took(self, kind: str, seconds: float) -> None:
        self.durations[kind] = min(seconds, self.durations.get(kind, seconds))

    def trial(self, kind: str) -> Trial:
        """One kill of the worker doing a `kind` of work ("sync", "send", "delta": a live
        sync), and its rerun."""
        return {"sync": self.sync, "send": self.send, "delta": self.delta}[kind]()

    def sync(self) -> Trial:
        """Kill the worker carrying out a sync that changes the membership, then `sync --wait`."""
        world, group_id = self.world, self.cluster.group_id()
        before = world.group_remote_ids(GROUP)
        self.cluster.leave_out(next(self._prefixes))
        after = self.cluster.should_hold()
        run_id = self._syncs().queue(group_id, trigger="manual", now=utcnow()).run.id
        holder = self._holder(lambda: run_of(world, run_id).holder)
        delay = self._kill(holder, "sync")
        killed_at, killed = utcnow(), run_of(world, run_id)
        left = world.group_remote_ids(GROUP)
        assert left in (before, after), (
            "a kill left a membership that is neither the old nor the new"
        )

        _, rerun = self._syncs().queue_and_wait(group_id, trigger="manual", now=utcnow())

        assert rerun.status == "completed" and rerun.started_at is not None, rerun.error
        assert world.group_remote_ids(GROUP) == after
        assert rerun.members == len(after)
        if killed.status == "in progress":
            assert run_of(world, run_id).status == "failed"
        recovery = (rerun.started_at - killed_at).total_seconds()
        assert recovery <= RECOVERY_SECONDS, f"the rerun started {recovery:.1f} s after the kill"
        self.keep_workers()
        return Trial("sync", delay, killed.status == "in progress", max(recovery, 0.0))

    def send(self) -> Trial:
        """Kill the worker carrying out a send (its sync on send included), then send again."""
        world = self.world
        subject = f"Trial {uuid.uuid4().hex[:8]}"
        mailing_id = new_mailing(world, subject)
        assert request_send(world, mailing_id) == "queued"
        holder = self._holder(lambda: mailing_of(world, mailing_id).lease_owner)
        delay = self._kill(holder, "send")
        killed_at = time.monotonic()
        mid_work = mailing_of(world, mailing_id).status == "sending"

        request_send(world, mailing_id)  # "sent already" when the kill came after the end

        def rerun_started() -> bool:
            mailing = mailing_of(world, mailing_id)
            return mailing.status != "sending" or mailing.lease_owner not in (None, holder)

        wait_until(rerun_started, "the rerun to start", RECOVERY_SECONDS)
        recovery = time.monotonic() - killed_at if mid_work else 0.0
        wait_until(lambda: mailing_of(world, mailing_id).status != "sending", "the rerun")

        mailing = mailing_of(world, mailing_id)
        assert mailing.status == "sent", mailing.status_reason
        delivered = Counter(
            recipient
            for message in self.sink.messages
            if message.message["Subject"] == subject
            for recipient in message.recipients
        )
        assert set(delivered) == self.cluster.addresses()  # no message lost
        duplicates = sum(delivered.values()) - len(delivered)
        assert duplicates <= CONNECTIONS, f"{duplicates} messages sent twice"
        with world.marketing.session() as session:
            assert mailing_report(session, mailing_id, now=utcnow())["totals"]["sent"] == len(
                delivered
            )
        self.keep_workers()
        return Trial("send", delay, mid_work, recovery, duplicates)

    def delta(self) -> Trial:
        """Kill the worker carrying out a live delta sync, then let the live pass of the worker
        left finish it: the kill leaves the group at its previous cursor (or, when it came after
        the end, at the new one), and the next pass brings it exactly to the list."""
        world = self.world
        before, cursor = world.group_remote_ids(GROUP), self.cursor()
        last_run = self.last_run_id()
        self.cluster.leave_out(next(self._prefixes))
        after = self.cluster.should_hold()
        run = self._live_run(after_run=last_run)
        if run is None:  # the delta ended between two looks: nothing left to kill
            return Trial("delta", 0.0, False, 0.0)
        delay = self._kill(run.holder or "", "delta")
        killed_at, killed = utcnow(), run_of(world, run.id)
        left = self._group_and_cursor()
        assert left in ((before, cursor), (after, left[1])) and (left[1] == cursor) == (
            left[0] == before
        ), "a kill left a membership or a cursor that is neither the old nor the new"

        wait_until(lambda: world.group_remote_ids(GROUP) == after, "the next pass", 60)
        wait_until(lambda: run_of(world, run.id).status != "in progress", "the run's end", 60)
        rerun = run_of(world, self.last_run_id())
        assert rerun.status == "completed" and rerun.started_at is not None, rerun.error
        assert (rerun.members, rerun.trigger) == (len(after), "live")
        recovery = (rerun.started_at - killed_at).total_seconds() if rerun.id != run.id else 0.0
        assert recovery <= RECOVERY_SECONDS, f"the rerun started {recovery:.1f} s after the kill"
        self.keep_workers()
        return Trial("delta", delay, killed.status == "in progress", max(recovery, 0.0))

    def calibrate_delta(self) -> None:
        """A live delta's duration at best, from the live runs so far (the kill's moment)."""
        with self.world.marketing.session() as session:
            runs = session.scalars(
                select(SyncRun).where(SyncRun.trigger == "live", SyncRun.status == "completed")
            ).all()
        self.durations["delta"] = min(
            (run.finished_at - run.started_at).total_seconds()
            for run in runs
            if run.finished_at and run.started_at
        )

    def _group_and_cursor(self) -> tuple[set[str | None], int | None]:
        """The group's members and its cursor as one commit left them (the worker left may
        apply the next pass between two reads)."""
        while True:
            cursor = self.cursor()
            members = self.world.group_remote_ids(GROUP)
            if self.cursor() == cursor:
                return members, cursor

    def cursor(self) -> int | None:
        with self.world.marketing.session() as session:
            return session.get_one(TargetGroup, self.cluster.group_id()).list_cursor

    def last_run_id(self) -> int:
        with self.world.marketing.session() as session:
            return session.scalar(select(func.max(SyncRun.id))) or 0

    def _live_run(self, *, after_run: int) -> SyncRun | None:
        """The live run a worker holds after `after_run`, looked for as often as the database
        answers; None when it ended before it was seen."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self.world.marketing.session() as session:
                run = session.scalar(
                    select(SyncRun).where(SyncRun.id > after_run, SyncRun.trigger == "live")
                )
            if run is not None and run.holder and run.status == "in progress":
                return run
            if run is not None and run.status != "in progress":
                return None
        raise AssertionError("no worker started a live sync within 60 s")

    def _syncs(self) -> SyncRuns:
        return SyncRuns(self.world.marketing, self.world.settings)

    def _holder(self, holder: Callable[[], str | None]) -> str:
        """The work's holder (`host:pid:thread`) once a worker has taken it."""
        taken: list[str] = []

        def taken_by_someone() -> bool:
            taken[:] = [name for name in [holder()] if name]
            return bool(taken)

        wait_until(taken_by_someone, "a worker to take the work")
        return taken[0]

    def _kill(self, holder: str, kind: str) -> float:
        """SIGKILL the holder's process at a random moment of the work; that moment."""
        pid = int(holder.split(":")[1])
        assert pid in self.workers.processes, f"{holder} is not a worker"
        delay = self.rng.uniform(0.0, self.durations[kind])
        time.sleep(delay)
        self.workers.kill(pid)
        return delay

    def keep_workers(self) -> None:
        """Start workers when kills left fewer than `keep_alive` running."""
        alive = [p for p in self.workers.processes.values() if p.poll() is None]
        if len(alive) < self.keep_alive:
            self.workers.start(self.keep_alive - len(alive))
