"""Every sync of a community group starts here, whoever asks for it.

A request makes a run, or finds the one running for the group (one at a time). Then:
- *queued* (a person, from the CLI, the API or the web page): the run goes on the job queue
  for a worker; when no worker is alive, the asker carries it out itself (the CLI before it
  answers, the web page once its answer is sent), so a machine running nothing else still syncs;
- *here* (a send, the scheduler): the asking process carries it out at once, or waits for the
  run already going (a worker must not wait on its own queue);
- a worker carries out a queued run (the job `sync_group`).
Carrying out a run claims it first, so a run is carried out once however many try. Whoever
waits for a run looks at liveness again as it waits: a queued run no live worker will take is
carried out by the waiter, and a run whose process died (kith.connection.run_lease) is
replaced by one the waiter carries out.
"""

from __future__ import annotations

import time
from datetime import datetime

from kith.clock import utcnow
from kith.config import Settings
from kith.connection.run_lease import binds, was_taken_over
from kith.connection.sync import SyncRequested, abandon, execute_sync, request_sync
from kith.db import Database
from kith.encryption import SecretBox
from kith.errors import KithError
from kith.jobs import JobContext, JobQueue, job
from kith.marketing.models import SyncRun
from kith.marketing.ports import SyncOutcome
from kith.marketing.workers import workers_alive

POLL_SECONDS = 0.2


class SyncRuns:
    """The syncs of one installation's marketing database."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def queue(
        self, group_id: int, *, trigger: str, now: datetime, allow_empty: bool = False
    ) -> SyncRequested:
        """Request a run and queue it for a worker, or find the one running."""
        requested = request_sync(
            self.db, group_id, trigger=trigger, now=now, allow_empty=allow_empty
        )
        if not requested.existing:
            JobQueue(self.settings).enqueue(sync_group.__name__, requested.run.id)
        return requested

    def nobody_else_will_run(self) -> bool:
        """Whether no worker is alive to take a queued run: the asker must carry it out."""
        return not workers_alive(self.db, now=utcnow())

    def queue_and_wait(
        self, group_id: int, *, trigger: str, now: datetime, allow_empty: bool = False
    ) -> tuple[SyncRequested, SyncRun]:
        """Request a run and return it finished: a worker's work when one is alive, else this
        process's own (the queued job then finds the run claimed and does nothing)."""
        requested = self.queue(group_id, trigger=trigger, now=now, allow_empty=allow_empty)
        return requested, self.wait(requested.run.id)

    def here(
        self,
        group_id: int,
        *,
        trigger: str,
        now: datetime,
        allow_empty: bool = False,
        delta: bool = False,
    ) -> SyncRun:
        """Sync the group in this process now, or wait for the run already going; with
        `delta`, only the changes since the group's last sync are read when they can be."""
        requested = request_sync(
            self.db, group_id, trigger=trigger, now=now, allow_empty=allow_empty, delta=delta
        )
        if requested.existing:
            return self.wait(requested.run.id)
        run = self.carry_out(requested.run.id)
        # a waiter on the group may have claimed the new run first: then wait for it
        return self.wait(run.id) if run.status == "in progress" else run

    def carry_out(self, run_id: int) -> SyncRun:
        """Carry out a requested run (nothing when someone already claimed it)."""
        return execute_sync(
            self.db,
            run_id,
            box=SecretBox.from_settings(self.settings),
            clock=utcnow,
            empty_guard=self.settings.empty_guard,
            read_deadline=self.settings.community_read_deadline_seconds,
        )

    def wait(self, run_id: int) -> SyncRun:
        """The run once it is no longer in progress. It is carried out here when it is queued
        and no worker is alive to take it; when its process died (or its lease ran out), the
        group's next run is waited for instead, or carried out here, and that run returned."""
        while True:
            with self.db.session() as session:
                run = session.get_one(SyncRun, run_id)
            if was_taken_over(run):
                return self.here(
                    run.group_id,
                    trigger=run.trigger,
                    now=utcnow(),
                    allow_empty=run.allow_empty,
                    delta=run.mode == "delta",
                )
            if run.status != "in progress":
                return run
            if run.started_at is None and self.nobody_else_will_run():
                self.carry_out(run_id)  # a no-op if a worker claimed it meanwhile
            elif binds(run, now=utcnow()) or not abandon(self.db, run_id, now=utcnow()):
                time.sleep(POLL_SECONDS)


@job
def sync_group(context: JobContext, run_id: int) -> None:
    """Carry out sync run `run_id` (claimed once, so a repeated job does nothing)."""
    SyncRuns(context.marketing, context.settings).carry_out(run_id)


def sync_for_marketing(
    db: Database, group_id: int, *, trigger: str, now: datetime, settings: Settings
) -> SyncOutcome:
    """Marketing's `sync_group` port (sync on send, hourly): the group synced here and now, by
    the changes since its last sync when its list was kept (a delta gives a full sync's
    outcomes without reading the whole list again), else in full."""
    try:
        run = SyncRuns(db, settings).here(group_id, trigger=trigger, now=now, delta=True)
    except KithError as error:  # not synced at all: inactive connection, source removed ...
        return SyncOutcome("failed", str(error))
    return SyncOutcome(run.status, run.error)
