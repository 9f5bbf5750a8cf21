"""Background jobs: the Huey queue (a SQLite file embedded, Redis at scale) and its workers.

The queue knows no side. Each side declares its jobs where they live (`@job`), and process
startup (`kith.app`) imports them, so that every worker can run every job. Jobs carry ids, not
objects, and read everything else from the databases, so a job is safe to run twice and any
worker on any machine can run it. Each job is handed the process's `JobContext`: the settings
and the marketing database, opened once per process rather than once per job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from kith.config import Settings
from kith.db import Database
from kith.private_files import touch_private_file

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
TICK_SECONDS = 60

_JOBS: dict[str, Callable[..., Any]] = {}


@dataclass
class JobContext:
    """What a job runs with: the process's settings and its databases, each opened once."""

    settings: Settings

    @cached_property
    def marketing(self) -> Database:
        return Database(self.settings.marketing_url)

    @cached_property
    def community(self) -> Database:
        return Database(self.settings.community_url)

    def close(self) -> None:
        for side in ("marketing", "community"):
            if side in self.__dict__:
                self.__dict__[side].dispose()


def job(function: Callable[..., Any]) -> Callable[..., Any]:
    """Declare a background job: `function(context, *args)`, run by whichever worker takes it."""
    _JOBS[function.__name__] = function
    return function


class JobQueue:
    """The Huey queue of some settings, with every job declared so far registered on it."""

    def __init__(self, settings: Settings) -> None:
        if settings.queue_url and settings.queue_url.startswith(("redis://", "rediss://")):
            self.huey: Huey = RedisHuey(settings.queue_name, url=settings.queue_url, results=False)
        else:
            path = settings.data_dir / "queue.db"
            touch_private_file(path)  # jobs carry what they work on: the owner's only
            self.huey = SqliteHuey(settings.queue_name, filename=str(path), results=False)
        self.context = JobContext(settings)
        self._tasks = {
            name: self.huey.task(name=name)(self._with_context(function))
            for name, function in _JOBS.items()
        }

    def enqueue(self, name: str, *args: Any) -> None:
        """Put one call of the job `name` on the queue."""
        self._tasks[name](*args)

    def _with_context(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            return function(self.context, *args)

        return run


class Heartbeat(Protocol):
    """Where a worker says it is alive (`started` on its first beat) and that it has gone."""

    def beat(self, worker: str, *, started: bool) -> None: ...

    def gone(self, worker: str) -> None: ...


@dataclass(frozen=True)
class Periodic:
    """Work a worker does every `seconds` (`kith tick`, the live lists' pass ...), and at once
    when asked to (`soon`)."""

    name: str
    seconds: float
    run: Callable[[], object]
    asked: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)

    def soon(self) -> None:
        """Run the work as soon as its thread is free, rather than at the end of its interval."""
        self.asked.set()


class Worker:
    """A Huey consumer, a heartbeat and periodic work, for `kith worker` and `kith serve`."""

    def __init__(
        self,
        queue: JobQueue,
        *,
        heartbeat: Heartbeat,
        periodic: Sequence[Periodic] = (),
        workers: int = 1,
    ) -> None:
        self.queue = queue
        self.heartbeat = heartbeat
        self.periodic = periodic
        self.consumer = _QuietConsumer(queue.huey, workers=workers, worker_type="thread")
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._beat, name="kith-heartbeat", daemon=True),
            *(
                threading.Thread(target=self._repeat, args=(work,), name=f"kith-{work.name}")
                for work in periodic
            ),
        ]

    def start(self) -> None:
        self.heartbeat.beat(self.name, started=True)
        self.consumer.start()
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for work in self.periodic:
            work.soon()  # wakes its thread, which sees the stop
        self.consumer.stop(graceful=True)
        longest = max([HEARTBEAT_SECONDS * 2, *(work.seconds + 5 for work in self.periodic)])
        for thread in self._threads:
            thread.join(timeout=longest)
        self.heartbeat.gone(self.name)
        self.queue.context.close()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.heartbeat.beat(self.name, started=False)
            except Exception:  # a database hiccup must not kill the worker; the next beat retries
                log.exception("worker heartbeat failed")

    def _repeat(self, work: Periodic) -> None:
        """`work` every `work.seconds`, or sooner when asked; one failure must not stop the next."""
        while True:
            work.asked.wait(work.seconds)
            if self._stop.is_set():
                return
            work.asked.clear()
            try:
                work.run()
            except Exception:
                log.exception("%s failed", work.name)


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """A consumer that leaves signals alone, so that it can run beside a web server."""

    def _set_signal_handlers(self) -> None:
        pass
