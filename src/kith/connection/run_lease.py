"""A sync run's lease: the process carrying it out, its heartbeat, and when another takes over.

A worker (or the asking process) claims a run and becomes its `holder` (`host:pid:thread`); a
thread of its own then renews the run's `heartbeat_at` every HEARTBEAT_EVERY for as long as
the run stages, decides and applies. A run in progress binds its group (one run per group at a
time) while its lease holds: until RUN_LEASE after the last heartbeat, and not a moment longer
once its holder is a process of this host that died (kill -9, a machine's own restart). A
queued run no worker has claimed binds its group for QUEUED_FOR (jobs can wait behind others).

A run that no longer binds is taken over by the next request for its group, which records it
failed (`abandoned: ...`), takes it away from its holder and starts another. A holder that was
only slow finds the run taken when it is about to commit, and drops its work: two processes
never apply one group's membership, and a failure leaves the previous membership.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from kith.db import Database
from kith.errors import KithError
from kith.marketing.models import SyncRun
from kith.processes import holder_is_dead, lease_held

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=5)
# A run whose holder has not renewed its heartbeat for this long is taken for dead: its process
# is on another host (one on this host is known dead at once), or cannot reach the database.
RUN_LEASE = timedelta(seconds=20)
QUEUED_FOR = timedelta(minutes=10)


class RunTakenOver(KithError):
    """The run was taken over while this process carried it out (its lease ran out)."""


def binds(run: SyncRun, *, now: datetime) -> bool:
    """Whether a run in progress still holds its group, so that a request waits for it."""
    if run.started_at is None:
        return now - run.heartbeat_at < QUEUED_FOR
    return lease_held(run.holder, run.heartbeat_at + RUN_LEASE, now=now)


def take_over(run: SyncRun) -> str:
    """Take a run that no longer binds away from its holder (whose apply then cannot commit);
    the reason to record on it."""
    holder, run.holder = run.holder, None
    if run.started_at is None:
        return f"abandoned: queued at {run.requested_at:%Y-%m-%d %H:%M:%S} UTC, taken by no worker"
    if holder_is_dead(holder):
        return f"abandoned: the process carrying it out ({holder}) died"
    return f"abandoned: no heartbeat from {holder} since {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"


def was_taken_over(run: SyncRun) -> bool:
    """Whether a run ended by being taken over (take_over cleared its holder), rather than by
    its own outcome: whoever waited for it waits for the group's next run instead."""
    return run.status == "failed" and run.holder is None


def holds(connection: Connection, run_id: int, holder: str) -> bool:
    """Whether `holder` still carries the run; its row stays locked until the transaction ends,
    so that a takeover waits for what this transaction records."""
    held = connection.scalar(
        select(SyncRun.id).where(SyncRun.id == run_id, SyncRun.holder == holder).with_for_update()
    )
    return held is not None


@contextmanager
def heartbeat(
    db: Database, run_id: int, holder: str, clock: Callable[[], datetime]
) -> Iterator[None]:
    """Renew a claimed run's heartbeat every HEARTBEAT_EVERY while the block runs, from a thread
    of its own: a statement of the apply may take minutes, and the lease must not run out then.

    On SQLite a renewal waits while the apply holds the write lock; a request for the group
    needs that lock too, so it cannot take the run over meanwhile.
    """
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_EVERY.total_seconds()):
            try:
                renew(db, run_id, holder, now=clock())
            except Exception:  # a database hiccup: the lease outlasts a few missed beats
                log.warning("sync run %s: the heartbeat failed", run_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"kith-sync-{run_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def renew(db: Database, run_id: int, holder: str, *, now: datetime) -> None:
    """Move the run's heartbeat to `now`, if `holder` still carries it."""
    with db.transaction() as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.holder == holder, SyncRun.status == "in progress")
            .values(heartbeat_at=now)
        )
