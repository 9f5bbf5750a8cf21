"""Background jobs: the Huey queue (a SQLite file embedded, Redis at scale) and its workers.

Jobs carry ids, not objects, and read everything else from the databases, so a job is safe to
run twice and any worker on any machine can run it. Workers say they are alive in the
marketing database (`job_workers`), so that a command wanting a result can tell whether anyone
will pick its job up, and run it itself when nobody will.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.marketing.models import JobWorker
from kith.marketing.scheduler import run_tick
from kith.wiring import wire

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
TICK_SECONDS = 60
# A worker not heard from for this long is taken to be gone.
WORKER_SILENCE = timedelta(seconds=20)

# The modules whose functions are jobs (decorated with `job`); every queue registers them all.
JOB_MODULES = ("kith.connection.jobs", "kith.marketing.mailings.jobs", "kith.connection.activity")
_JOBS: dict[str, Callable[..., Any]] = {}


def job(function: Callable[..., Any]) -> Callable[..., Any]:
    """Declare a background job; it runs with plain arguments in whichever worker takes it."""
    _JOBS[function.__name__] = function
    return function


class JobQueue:
    """The Huey queue of some settings, with every job registered on it."""

    def __init__(self, settings: Settings) -> None:
        for module in JOB_MODULES:
            importlib.import_module(module)
        wire(settings)  # jobs of the marketing side reach the connection through its ports
        if settings.queue_url and settings.queue_url.startswith(("redis://", "rediss://")):
            self.huey: Huey = RedisHuey(settings.queue_name, url=settings.queue_url, results=False)
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            path = settings.data_dir / "queue.db"
            self.huey = SqliteHuey(settings.queue_name, filename=str(path), results=False)
        self._tasks = {name: self.huey.task(name=name)(fn) for name, fn in _JOBS.items()}

    def enqueue(self, name: str, *args: Any) -> None:
        """Put one call of the job `name` on the queue."""
        self._tasks[name](*args)


def workers_alive(db: Database, *, now: datetime) -> int:
    """How many workers have said they are alive lately."""
    with db.session() as session:
        return (
            session.scalar(select(func.count()).where(JobWorker.seen_at >= now - WORKER_SILENCE))
            or 0
        )


class Worker:
    """A Huey consumer plus a heartbeat thread, for `kith worker` and inside `kith serve`."""

    def __init__(
        self, settings: Settings, *, workers: int = 1, tick_seconds: float = TICK_SECONDS
    ) -> None:
        self.settings = settings
        self.tick_seconds = tick_seconds
        self.queue = JobQueue(settings)
        self.consumer = _QuietConsumer(self.queue.huey, workers=workers, worker_type="thread")
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="kith-heartbeat", daemon=True)
        self._ticker = threading.Thread(target=self._tick, name="kith-tick", daemon=True)
        self._db = Database(settings.marketing_url)

    def start(self) -> None:
        self._say_alive(started=True)
        self.consumer.start()
        self._heartbeat.start()
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        self.consumer.stop(graceful=True)
        self._heartbeat.join(timeout=HEARTBEAT_SECONDS * 2)
        self._ticker.join(timeout=self.tick_seconds + 5)
        with self._db.transaction() as session:
            session.execute(delete(JobWorker).where(JobWorker.name == self.name))
        self._db.dispose()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._say_alive(started=False)
            except Exception:  # a database hiccup must not kill the worker; the next beat retries
                log.exception("worker heartbeat failed")

    def _tick(self) -> None:
        """`kith tick` every minute: campaign steps, enrollments, hourly syncs. Every worker
        ticks; the scheduler's lease lets one tick run at a time."""
        while not self._stop.wait(self.tick_seconds):
            try:
                run_tick(self._db, self.settings, now=utcnow())
            except Exception:  # one failed tick must not stop the next
                log.exception("tick failed")

    def _say_alive(self, *, started: bool) -> None:
        now = utcnow()
        table = JobWorker.__table__
        dialect = postgresql if not self._db.is_sqlite else sqlite
        statement = dialect.insert(table).values(name=self.name, started_at=now, seen_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.name], set_={"seen_at": now}
        )
        with self._db.transaction() as session:
            session.execute(statement)
            if started:  # forget workers long gone, so the table stays small
                session.execute(
                    delete(JobWorker).where(JobWorker.seen_at < now - timedelta(days=1))
                )


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """A consumer that leaves signals alone, so that it can run beside a web server."""

    def _set_signal_handlers(self) -> None:
        pass
