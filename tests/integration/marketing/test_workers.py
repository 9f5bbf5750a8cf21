"""Which workers are alive: those heard from lately, less those of this host whose process is
gone (a killed worker is not waited for until its silence tells)."""

from __future__ import annotations

from kith.clock import utcnow
from kith.db import Database
from kith.marketing.workers import WORKER_SILENCE, WorkerRegistry, workers_alive
from kith.processes import this_thread
from tests.support.processes import dead_holder


def test_a_killed_worker_of_this_host_is_not_alive_though_heard_from_a_moment_ago(
    marketing_db: Database,
) -> None:
    registry = WorkerRegistry(marketing_db)
    registry.beat(this_thread(), started=True)
    registry.beat("elsewhere:4242:ab", started=True)  # another host's: alive until silent
    registry.beat(dead_holder(), started=True)

    now = utcnow()
    assert workers_alive(marketing_db, now=now) == 2
    assert workers_alive(marketing_db, now=now + WORKER_SILENCE) == 0
