"""`kith worker` processes sharing one Redis queue and one PostgreSQL database, as on several
machines: started with a test's settings, waited for until they say they are alive, killed.

Redis comes from KITH_TEST_REDIS_URL (default: the local server). When it cannot be reached the
tests that need it are skipped with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from huey import RedisHuey
from redis import Redis
from sqlalchemy import select

from kith.config import Settings
from kith.db import Database
from kith.marketing.models import JobWorker

REDIS_URL = os.environ.get("KITH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STARTUP_SECONDS = 60.0


def require_redis() -> None:
    """Skip the test when Redis cannot be reached (fail it under CI=true)."""
    try:
        with Redis.from_url(REDIS_URL, socket_connect_timeout=2) as client:
            client.ping()
    except Exception as error:  # any failure to connect is the reason to report
        reason = f"Redis at {REDIS_URL} is unreachable: {error.__class__.__name__}: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires Redis: {reason}")
        pytest.skip(reason)


@contextmanager
def redis_queue() -> Iterator[tuple[str, str]]:
    """(Redis URL, a queue name of this test's own), its keys deleted afterwards."""
    require_redis()
    name = f"kith-test-{uuid.uuid4().hex[:12]}"
    try:
        yield REDIS_URL, name
    finally:
        RedisHuey(name, url=REDIS_URL).storage.flush_all()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment (KITH_*) that gives a process these settings, and nothing else of ours."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KITH_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"KITH_{name.upper()}"] = str(value)
    return env


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Return once `condition()` holds (it is another process's progress); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Workers:
    """`kith worker` processes of some settings; their output goes to files in `logs`."""

    def __init__(self, settings: Settings, marketing: Database, logs: Path) -> None:
        self.env = settings_env(settings)
        self.marketing = marketing
        self.logs = logs
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, count: int, *, threads: int = 2) -> list[int]:
        """Start `count` workers; their pids once every one has said it is alive."""
        self.logs.mkdir(parents=True, exist_ok=True)
        started = []
        for _ in range(count):
            log = (self.logs / f"worker-{len(self.processes) + 1}.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "kith", "worker", "--workers", str(threads)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            self.processes[process.pid] = process
            started.append(process.pid)
        wait_until(lambda: self._all_alive(started), "the workers to start", STARTUP_SECONDS)
        return started

    def _all_alive(self, pids: list[int]) -> bool:
        for pid in pids:
            if self.processes[pid].poll() is not None:
                raise AssertionError(f"worker {pid} exited at start:\n{self.output()}")
        with self.marketing.session() as session:
            names = session.scalars(select(JobWorker.name)).all()
        seen = {int(name.split(":")[1]) for name in names}
        return seen >= set(pids)

    def kill(self, pid: int) -> None:
        """SIGKILL one worker, as a machine losing power does, and reap it."""
        process = self.processes[pid]
        os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the workers still running, as Ctrl-C does (each finishes its current job)."""
        running = [process for process in self.processes.values() if process.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def output(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.logs.glob("worker-*.log"))
        )


@contextmanager
def running_workers(
    settings: Settings, marketing: Database, logs: Path, count: int = 2
) -> Iterator[Workers]:
    """`count` workers running for the length of the block, stopped after it."""
    workers = Workers(settings, marketing, logs)
    try:
        workers.start(count)
        yield workers
    finally:
        workers.stop()
