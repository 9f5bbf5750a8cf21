"""The connection's background jobs: sync runs, queued for workers or run where they are asked.

A request makes a run (or finds the running one) and queues it. `sync_and_wait` waits for a
worker to finish it, or, when no worker is alive, carries it out in the asking process, so
that `kith marketing groups sync --wait` works on a machine running nothing else.
"""

from __future__ import annotations

import time
from datetime import datetime

from kith.clock import utcnow
from kith.config import Settings, get_settings
from kith.connection.sync import ABANDONED_AFTER, SyncRequested, execute_sync, request_sync
from kith.db import Database
from kith.encryption import SecretBox
from kith.errors import Conflict
from kith.jobs import JobQueue, job, workers_alive
from kith.marketing.models import SyncRun

POLL_SECONDS = 0.2


@job
def sync_group(run_id: int) -> None:
    """Carry out sync run `run_id` (claimed once, so a repeated job does nothing)."""
    settings = get_settings()
    db = Database(settings.marketing_url)
    try:
        run_requested_sync(db, settings, run_id)
    finally:
        db.dispose()


def run_requested_sync(db: Database, settings: Settings, run_id: int) -> SyncRun:
    return execute_sync(
        db,
        run_id,
        box=SecretBox.from_settings(settings),
        clock=utcnow,
        empty_guard=settings.empty_guard,
    )


def start_sync(
    db: Database,
    settings: Settings,
    group_name: str,
    *,
    trigger: str,
    now: datetime,
    allow_empty: bool = False,
) -> SyncRequested:
    """Request a sync of a group and queue it for a worker (unless one is already running)."""
    requested = request_sync(db, group_name, trigger=trigger, now=now, allow_empty=allow_empty)
    if not requested.existing:
        JobQueue(settings).enqueue("sync_group", requested.run.id)
    return requested


def sync_and_wait(
    db: Database,
    settings: Settings,
    group_name: str,
    *,
    trigger: str,
    now: datetime,
    allow_empty: bool = False,
) -> tuple[SyncRequested, SyncRun]:
    """Request a sync and return its finished run: a worker's work when one is alive, else
    this process's own (the queued job then finds the run claimed and does nothing)."""
    requested = start_sync(
        db, settings, group_name, trigger=trigger, now=now, allow_empty=allow_empty
    )
    if not workers_alive(db, now=utcnow()):
        run_requested_sync(db, settings, requested.run.id)  # a no-op if another process has it
    return requested, wait_for(db, requested.run.id)


def wait_for(db: Database, run_id: int) -> SyncRun:
    """The run once it is no longer in progress; Conflict if whoever runs it went silent."""
    while True:
        with db.session() as session:
            run = session.get_one(SyncRun, run_id)
        if run.status != "in progress":
            return run
        if utcnow() - run.heartbeat_at > ABANDONED_AFTER:
            raise Conflict(
                f"sync run {run.id} has made no progress since "
                f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC; its worker may have stopped"
            )
        time.sleep(POLL_SECONDS)
