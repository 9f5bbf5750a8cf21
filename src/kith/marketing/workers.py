"""Which job workers are alive: each says so in the marketing database every few seconds.

Commands that want a job's result (`groups sync --wait`, `mailings send --wait`) and the pages
that start one run it themselves when no worker has been seen lately, instead of waiting on a
queue nobody reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from kith.clock import utcnow
from kith.db import Database
from kith.marketing.models import JobWorker
from kith.processes import holder_is_dead

# A worker not heard from for this long is taken to be gone.
WORKER_SILENCE = timedelta(seconds=20)
# Workers gone this long are forgotten when another starts, so that the table stays small.
FORGOTTEN_AFTER = timedelta(days=1)


def workers_alive(db: Database, *, now: datetime) -> int:
    """How many workers have said they are alive lately, less those of this host whose process
    is gone (a worker killed a moment ago is not waited for until its silence tells)."""
    with db.session() as session:
        names = session.scalars(
            select(JobWorker.name).where(JobWorker.seen_at >= now - WORKER_SILENCE)
        ).all()
    return sum(1 for name in names if not holder_is_dead(name))


class WorkerRegistry:
    """The workers' heartbeats (kith.jobs.Heartbeat), kept in `job_workers`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def beat(self, worker: str, *, started: bool) -> None:
        now = utcnow()
        table = JobWorker.__table__
        dialect = sqlite if self.db.is_sqlite else postgresql
        statement = dialect.insert(table).values(name=worker, started_at=now, seen_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.name], set_={"seen_at": now}
        )
        with self.db.transaction() as session:
            session.execute(statement)
            if started:
                session.execute(delete(JobWorker).where(JobWorker.seen_at < now - FORGOTTEN_AFTER))

    def gone(self, worker: str) -> None:
        with self.db.transaction() as session:
            session.execute(delete(JobWorker).where(JobWorker.name == worker))
